//! `drlab sweep --format html`: the page of a small deterministic sweep
//! matches its snapshot (`lab/tests/snapshots/sweep_html__wan-poisson-sweep.html.snap`,
//! one element per line), holds one CDF per variant and metric, the
//! objectives and the requirement's answer, and `--out DIR` writes the
//! same page as sweep.html beside sweep.md and sweep.json.
//! `html_browser.rs` opens it in Chromium.

mod support;
use support::{SWEEP_HTML as ARGS, drlab, stderr, stdout};

/// The markup of `<svg id="ID" …>…</svg>`.
fn chart<'a>(page: &'a str, id: &str) -> &'a str {
    let at = page
        .find(&format!("<svg id=\"{id}\""))
        .unwrap_or_else(|| panic!("no #{id}"));
    &page[at..at + page[at..].find("</svg>").unwrap()]
}

#[test]
fn the_sweep_page_matches_its_snapshot() {
    let o = drlab(ARGS);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let page = stdout(&o);
    assert!(page.starts_with("<!DOCTYPE html>"));
    for id in ["cdf-rto", "cdf-rpo"] {
        let c = chart(&page, id);
        assert_eq!(
            c.matches("class=\"cdf v").count(),
            3,
            "#{id}: one per variant"
        );
        assert!(c.contains("class=\"objective\""), "#{id}");
    }
    for id in ["quantiles-rto", "quantiles-rpo"] {
        assert!(chart(&page, id).contains("class=\"objective\""), "#{id}");
    }
    let rpo = chart(&page, "quantiles-rpo");
    assert!(rpo.contains("class=\"requirement\""));
    assert!(rpo.contains("id=\"require-answer\" class=\"answer\""));
    assert!(
        rpo.contains("smallest meeting it: 10"),
        "the answer is not marked"
    );
    for external in ["<script", "<link", "src=", "http://", "https://", "@import"] {
        assert!(!page.contains(external), "not self-contained ({external})");
    }
    assert_eq!(page, stdout(&drlab(ARGS)), "the page is not deterministic");
    let mut settings = insta::Settings::clone_current();
    settings.set_description(ARGS.join(" ") + ", one element per line");
    settings.bind(|| {
        insta::assert_snapshot!("wan-poisson-sweep.html", page.replace("><", ">\n<"));
    });
}

#[test]
fn out_writes_the_page_beside_the_table_and_json() {
    let d = tempfile::tempdir().unwrap();
    let out = d.path().join("s");
    // 40 seeds cannot bound a p99: no variant meets it, exit 1, and the
    // chart says so where the answer would be.
    let o = drlab(&[
        "sweep",
        "scenarios/library/wan-failover-poisson.toml",
        "--seeds",
        "40",
        "--vary",
        "links[0].bandwidth_mbps=2,4,10",
        "--require",
        "rpo_p99<=1",
        "--format",
        "html",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let page = std::fs::read(out.join("sweep.html")).unwrap();
    assert_eq!(page, o.stdout, "sweep.html differs from the page printed");
    let page = String::from_utf8(page).unwrap();
    assert!(chart(&page, "quantiles-rpo").contains("no variant meets rpo_p99 ≤ 1 s"));
    let md = std::fs::read_to_string(out.join("sweep.md")).unwrap();
    assert!(md.contains("no variant meets rpo_p99<=1"), "{md}");
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("sweep.json")).unwrap()).unwrap();
    assert_eq!(json.as_array().map(Vec::len), Some(3));
    assert!(json[0]["rpo_s"]["p99_lower95"].is_number());
}
