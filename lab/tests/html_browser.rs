//! The HTML report in a real browser: `drlab run SCENARIO --format html`
//! for a few library scenarios, and the page of a sweep (`drlab sweep …
//! --format html`, the one `sweep_html.rs` snapshots) and of a comparison
//! (`drlab compare A.json B.json --format html`), opened offline in
//! headless Chromium (every
//! host name resolves to nothing). The DOM Chromium builds must hold every
//! element the markup has (as many `<svg>`, `<rect>`, `<g>`, … of each: a
//! misnested element would move or drop some), and a copy of the page with
//! a measuring script added (the page itself has none) must lay every chart
//! out at its own size, with its drawing inside it and no rectangle drawn
//! empty, logging no console message; a PNG screenshot of each is kept in
//! `target/html-report/` for people to look at.
//!
//! Without Chromium the test prints `SKIP`; `DRLAB_REQUIRE_BROWSER=1` (set
//! by `.ci/run`, which installs Debian's `chromium`) makes that a failure.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

mod support;
use support::{LAN, SWEEP_HTML, drlab, root, stderr};

/// Turns the SKIP into a failure.
const REQUIRE_ENV: &str = "DRLAB_REQUIRE_BROWSER";
/// The SVG markers the sweep page must hold: both CDFs with one curve
/// per variant (three), both quantile charts with their whiskers, the
/// objective, the requirement and its answer.
const SWEEP_MARKERS: &[&str] = &[
    "id=\"cdf-rto\"",
    "id=\"cdf-rpo\"",
    "id=\"quantiles-rto\"",
    "id=\"quantiles-rpo\"",
    "class=\"cdf v0\"",
    "class=\"cdf v1\"",
    "class=\"cdf v2\"",
    "class=\"quantile q-p99\"",
    "class=\"ci\"",
    "class=\"objective\"",
    "class=\"requirement\"",
    "id=\"require-answer\" class=\"answer\"",
    "id=\"variants\"",
    "id=\"replay\"",
];

/// Chromium is killed after this long.
const BROWSER_LIMIT: Duration = Duration::from_secs(60);

/// The scenarios shown, with the SVG markers each page must hold.
const PAGES: &[(&str, &[&str])] = &[
    (
        "wan-failover",
        &[
            "id=\"timeline\"",
            "id=\"workload\"",
            "id=\"clients\"",
            "id=\"rto-breakdown\"",
            "class=\"step step-ok\"",
            "class=\"step step-failed\"",
            "class=\"state-band state-214\"",
            "class=\"fault-window\"",
            "class=\"stale-window\"",
            "class=\"part part-propagation\"",
            "class=\"bucket\"",
            "id=\"replay\"",
        ],
    ),
    (
        "two-site-dr",
        &[
            "id=\"timeline\"",
            "class=\"step step-ok\"",
            "id=\"rto-breakdown\"",
        ],
    ),
    (
        "lan-failover-wrong-order",
        &[
            "id=\"timeline\"",
            "id=\"reasons\"",
            "class=\"verdict fail\"",
        ],
    ),
];

fn chromium() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("DRLAB_CHROMIUM") {
        return Some(PathBuf::from(p)).filter(|p| p.is_file());
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .flat_map(|d| [d.join("chromium"), d.join("chromium-browser")])
        .find(|p| p.is_file())
}

fn out_dir() -> PathBuf {
    // CARGO_TARGET_TMPDIR is target/tmp: the screenshots go beside it.
    let tmp = Path::new(env!("CARGO_TARGET_TMPDIR"));
    let dir = tmp.parent().unwrap_or(tmp).join("html-report");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Runs headless Chromium on `page` with `args`, killed after
/// [`BROWSER_LIMIT`]; returns (stdout, stderr).
fn browse(browser: &Path, page: &Path, args: &[String]) -> (String, String) {
    let profile = tempfile::tempdir().unwrap();
    let out = tempfile::NamedTempFile::new().unwrap();
    let err = tempfile::NamedTempFile::new().unwrap();
    let mut child = Command::new(browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--hide-scrollbars",
            "--enable-logging=stderr",
            "--v=0",
            "--host-resolver-rules=MAP * ~NOTFOUND",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .args(args)
        .arg(format!("file://{}", page.display()))
        .stdin(Stdio::null())
        .stdout(out.reopen().unwrap())
        .stderr(err.reopen().unwrap())
        .spawn()
        .unwrap_or_else(|e| panic!("{} does not start: {e}", browser.display()));
    let start = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if start.elapsed() > BROWSER_LIMIT {
            let _ = child.kill();
            let _ = child.wait();
            panic!("chromium did not finish within {BROWSER_LIMIT:?}");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let read = |f: &tempfile::NamedTempFile| std::fs::read_to_string(f.path()).unwrap();
    (read(&out), read(&err))
}

/// The elements whose number the browser's DOM must keep.
const TAGS: &[&str] = &[
    "svg", "g", "rect", "line", "path", "circle", "text", "title", "section", "table", "tr", "li",
];

/// How many `<tag` elements `html` opens (text is escaped, so every `<` is
/// markup).
fn count_tags(html: &str, tag: &str) -> usize {
    html.match_indices(&format!("<{tag}"))
        .filter(|(i, m)| {
            matches!(
                html.as_bytes().get(i + m.len()),
                Some(b' ' | b'>' | b'/' | b'\n')
            )
        })
        .count()
}

/// Added to a copy of the page, before `</body>`: measures each chart (an
/// `<svg id=…>`) as Chromium laid it out and writes one line per chart
/// into `<pre id="layout">`: `id width height bbox-x bbox-y bbox-width
/// bbox-height rects empty-rects` (the box of what is drawn, in the
/// chart's own units; `rects` counts the chart's SVG rects as the DOM
/// holds them, so one a misnested element moved out of the chart is
/// missed; an empty rect has a zero-sized box).
const MEASURE: &str = r#"<script>
const lines = [];
for (const svg of document.querySelectorAll("svg[id]")) {
  const r = svg.getBoundingClientRect();
  const b = svg.getBBox();
  const rects = [...svg.querySelectorAll("rect")];
  const empty = rects.filter(e => { const x = e.getBBox(); return !(x.width > 0 && x.height > 0); });
  lines.push([svg.id, r.width, r.height, b.x, b.y, b.width, b.height, rects.length, empty.length].join(" "));
}
const pre = document.createElement("pre");
pre.id = "layout";
pre.textContent = "\n" + lines.join("\n") + "\n";
document.body.append(pre);
</script>"#;

/// What [`MEASURE`] found for one chart.
#[derive(Debug)]
struct Layout {
    id: String,
    size: (f64, f64),
    drawn: (f64, f64, f64, f64),
    rects: usize,
    empty_rects: usize,
}

fn layouts(dom: &str) -> Vec<Layout> {
    let Some(start) = dom.find("<pre id=\"layout\">") else {
        return Vec::new();
    };
    let body = &dom[start..];
    let body = &body[body.find('>').unwrap() + 1..body.find("</pre>").unwrap()];
    body.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let f: Vec<&str> = l.split(' ').collect();
            assert_eq!(f.len(), 9, "layout line {l:?}");
            let n = |i: usize| f[i].parse::<f64>().unwrap_or(f64::NAN);
            Layout {
                id: f[0].to_string(),
                size: (n(1), n(2)),
                drawn: (n(3), n(4), n(5), n(6)),
                rects: f[7].parse().unwrap(),
                empty_rects: f[8].parse().unwrap(),
            }
        })
        .collect()
}

/// The `width` and `height` attributes of `<svg id="ID"`.
fn declared_size(html: &str, id: &str) -> (f64, f64) {
    let at = html.find(&format!("<svg id=\"{id}\"")).unwrap();
    let tag = &html[at..at + html[at..].find('>').unwrap()];
    let attr = |a: &str| -> f64 {
        let v = tag.split(&format!(" {a}=\"")).nth(1).unwrap();
        v[..v.find('"').unwrap()].parse().unwrap()
    };
    (attr("width"), attr("height"))
}

/// Every chart of the page is laid out at its declared size, its drawing
/// is inside it and not empty, and no rectangle is drawn with no area.
fn check_layout(name: &str, html: &str, dom: &str) {
    let charts = layouts(dom);
    let ids: Vec<&str> = html
        .split("<svg id=\"")
        .skip(1)
        .map(|s| &s[..s.find('"').unwrap()])
        .collect();
    assert_eq!(
        charts.iter().map(|c| c.id.as_str()).collect::<Vec<_>>(),
        ids,
        "{name}: the charts measured are not the page's"
    );
    for c in &charts {
        let (w, h) = declared_size(html, &c.id);
        let (bx, by, bw, bh) = c.drawn;
        let near = |a: f64, b: f64| (a - b).abs() < 0.5;
        assert!(
            near(c.size.0, w) && near(c.size.1, h),
            "{name}: #{} is laid out {:?}, declared {w}×{h}",
            c.id,
            c.size
        );
        assert!(
            bw > 0.0 && bh > 0.0,
            "{name}: #{} draws nothing: {c:?}",
            c.id
        );
        assert!(
            bx >= -0.5 && by >= -0.5 && bx + bw <= w + 0.5 && by + bh <= h + 0.5,
            "{name}: #{}'s drawing {:?} overflows its {w}×{h} box",
            c.id,
            c.drawn
        );
        let at = html.find(&format!("<svg id=\"{}\"", c.id)).unwrap();
        let markup = &html[at..at + html[at..].find("</svg>").unwrap()];
        assert!(
            c.rects > 0 && c.rects == count_tags(markup, "rect"),
            "{name}: #{} holds {} rects in the DOM, {} in the markup",
            c.id,
            c.rects,
            count_tags(markup, "rect")
        );
        assert_eq!(c.empty_rects, 0, "{name}: #{} draws empty rects", c.id);
    }
}

/// A screenshot tall enough for the whole page: its charts and tables
/// plus the text.
fn page_height(html: &str) -> u32 {
    let charts: f64 = html
        .split("<svg id=")
        .skip(1)
        .filter_map(|s| {
            s.split("height=\"")
                .nth(1)?
                .split('"')
                .next()?
                .parse::<f64>()
                .ok()
        })
        .sum();
    // Table rows (the sweep's and compare's tables) at about 24 px each.
    let rows = 24.0 * count_tags(html, "tr") as f64;
    (charts + rows + 700.0).min(16_000.0) as u32
}

fn check_page(browser: &Path, name: &str, markers: &[&str]) {
    let file = format!("scenarios/library/{name}.toml");
    let o = drlab(&["run", &file, "--format", "html"]);
    assert!(
        matches!(o.status.code(), Some(0 | 1)),
        "{name}: {}",
        stderr(&o)
    );
    let html = String::from_utf8(o.stdout).unwrap();
    assert!(html.contains(&format!("drlab run {file} --seed ")));
    check_rendered(browser, name, &html, markers);
}

/// The sweep page of [`SWEEP_HTML`], as [`check_page`] checks a drill's.
fn check_sweep_page(browser: &Path) {
    let o = drlab(SWEEP_HTML);
    assert_eq!(o.status.code(), Some(0), "sweep: {}", stderr(&o));
    let html = String::from_utf8(o.stdout).unwrap();
    assert!(html.contains("drlab sweep scenarios/library/wan-failover-poisson.toml --seeds 60"));
    check_rendered(browser, "sweep-wan-failover-poisson", &html, SWEEP_MARKERS);
}

/// A sweep of more variants than one chart has colours: small multiples,
/// one chart per variant and metric, each drawn and laid out.
fn check_many_variant_sweep_page(browser: &Path) {
    let o = drlab(&[
        "sweep",
        "scenarios/library/wan-failover.toml",
        "--seeds",
        "5",
        "--vary",
        "links[0].bandwidth_mbps=0.5,1,2,3,4,5,6,7,8,9,10",
        "--format",
        "html",
    ]);
    assert_eq!(o.status.code(), Some(0), "sweep: {}", stderr(&o));
    let html = String::from_utf8(o.stdout).unwrap();
    assert!(
        !html.contains("id=\"cdf-rto\""),
        "an overlay of 11 variants"
    );
    let markers = [
        "id=\"cdf-rto-0\"",
        "id=\"cdf-rto-10\"",
        "id=\"cdf-rpo-0\"",
        "id=\"cdf-rpo-10\"",
        "class=\"context\"",
        "id=\"quantiles-rpo\"",
    ];
    check_rendered(browser, "sweep-11-variants-wan-failover", &html, &markers);
}

/// The page of `drlab compare --format html` of two seeds of the Poisson
/// WAN failover (their RTOs differ), as [`check_page`] checks a drill's.
fn check_compare_page(browser: &Path) {
    let d = tempfile::tempdir().unwrap();
    let file = "scenarios/library/wan-failover-poisson.toml";
    let reports: Vec<String> = ["1", "2"]
        .iter()
        .map(|seed| {
            let o = drlab(&["run", file, "--seed", seed, "--format", "json"]);
            assert!(matches!(o.status.code(), Some(0 | 1)), "{}", stderr(&o));
            let p = d.path().join(format!("{seed}.json"));
            std::fs::write(&p, &o.stdout).unwrap();
            p.to_string_lossy().into_owned()
        })
        .collect();
    let o = drlab(&["compare", &reports[0], &reports[1], "--format", "html"]);
    assert!(
        matches!(o.status.code(), Some(0 | 1)),
        "compare: {}",
        stderr(&o)
    );
    let html = String::from_utf8(o.stdout).unwrap();
    let markers = [
        "id=\"sides\"",
        "id=\"compare-breakdown\"",
        "id=\"compare-gantt\"",
        "class=\"part part-propagation\"",
        "id=\"steps\"",
        "id=\"states\"",
    ];
    check_rendered(browser, "compare-wan-failover-poisson", &html, &markers);
}

/// The page of `drlab sla --format html` of the everRun tiers plan (a few
/// runs: its verdicts are undecided or missed, which the page draws too),
/// as [`check_page`] checks a drill's.
fn check_sla_page(browser: &Path) {
    let o = drlab(&[
        "sla",
        "scenarios/plans/everrun-tiers.toml",
        "--seeds",
        "20",
        "--years",
        "400",
        "--format",
        "html",
    ]);
    assert!(
        matches!(o.status.code(), Some(0 | 1)),
        "sla: {}",
        stderr(&o)
    );
    let html = String::from_utf8(o.stdout).unwrap();
    let markers = [
        "id=\"verdict\"",
        "class=\"chart share\"",
        "class=\"chart downtime\"",
        "id=\"tiers\"",
        "id=\"classes\"",
    ];
    check_rendered(browser, "sla-everrun-tiers", &html, &markers);
}

/// `html` (the page `name`) is self-contained, keeps its elements and
/// `markers` in Chromium's DOM, lays out with no console message, and
/// screenshots to `target/html-report/NAME.png`.
fn check_rendered(browser: &Path, name: &str, html: &str, markers: &[&str]) {
    for external in ["<script", "<link", "src=", "http://", "https://", "@import"] {
        assert!(
            !html.contains(external),
            "{name}: the page is not self-contained ({external})"
        );
    }
    let page = out_dir().join(format!("{name}.html"));
    std::fs::write(&page, html).unwrap();

    let (dom, _) = browse(browser, &page, &["--dump-dom".into()]);
    for m in markers {
        assert!(dom.contains(m), "{name}: the browser's DOM has no {m}");
    }
    for tag in TAGS {
        assert_eq!(
            count_tags(&dom, tag),
            count_tags(html, tag),
            "{name}: the browser's DOM does not have the markup's <{tag}> elements"
        );
    }
    assert!(count_tags(&dom, "rect") > 0, "{name}: no <rect> in the DOM");

    let probe_dir = tempfile::tempdir().unwrap();
    let probe = probe_dir.path().join(format!("{name}.html"));
    assert_eq!(html.matches("</body>").count(), 1);
    std::fs::write(
        &probe,
        html.replace("</body>", &format!("{MEASURE}</body>")),
    )
    .unwrap();
    let (measured, log) = browse(browser, &probe, &["--dump-dom".into()]);
    let console: Vec<&str> = log.lines().filter(|l| l.contains("CONSOLE")).collect();
    assert!(console.is_empty(), "{name}: console messages: {console:#?}");
    check_layout(name, html, &measured);

    let png = out_dir().join(format!("{name}.png"));
    let _ = std::fs::remove_file(&png);
    let (_, log) = browse(
        browser,
        &page,
        &[
            format!("--window-size=1280,{}", page_height(html)),
            format!("--screenshot={}", png.display()),
        ],
    );
    let bytes =
        std::fs::read(&png).unwrap_or_else(|e| panic!("{name}: no screenshot ({e}): {log}"));
    assert!(
        bytes.starts_with(b"\x89PNG") && bytes.len() > 10_000,
        "{name}: empty screenshot"
    );
}

#[test]
fn html_reports_render_in_chromium() {
    let Some(browser) = chromium() else {
        assert!(
            std::env::var(REQUIRE_ENV).as_deref() != Ok("1"),
            "{REQUIRE_ENV}=1 but chromium is not installed (apt-get install chromium)"
        );
        #[allow(
            clippy::print_stdout,
            reason = "the SKIP line is what a run without chromium shows"
        )]
        {
            println!("SKIP html_reports_render_in_chromium: chromium is not installed");
        }
        return;
    };
    assert!(root().join("scenarios/library").is_dir());
    for (name, markers) in PAGES {
        check_page(&browser, name, markers);
    }
    check_sweep_page(&browser);
    check_many_variant_sweep_page(&browser);
    check_compare_page(&browser);
    check_sla_page(&browser);
}

#[test]
fn out_writes_the_page_that_format_html_prints() {
    let d = tempfile::tempdir().unwrap();
    let out = d.path().join("r");
    let o = drlab(&[
        "run",
        LAN,
        "--format",
        "html",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let written = std::fs::read(out.join("report.html")).unwrap();
    assert_eq!(
        written, o.stdout,
        "report.html differs from the page printed"
    );
    assert!(
        String::from_utf8(written)
            .unwrap()
            .starts_with("<!DOCTYPE html>")
    );
    let o = drlab(&["explore", LAN, "--runs", "2", "--format", "html"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("--format html is for `drlab run`, `sweep`, `compare` and `sla`"),
        "{}",
        stderr(&o)
    );
}
