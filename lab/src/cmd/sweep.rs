//! `drlab sweep`: many simulated runs of one scenario across seeds and
//! parameter values, summarised as RTO/RPO distributions (p50/p95/p99) per
//! value, for SLA and capacity planning ("the smallest WAN link that keeps
//! RPO p99 under 60 s").

use std::path::Path;

use anyhow::{Context, Result, bail};
use drlab_reports::{Report, Verdict};
use serde::Serialize;

use super::out;
use crate::Outcome;
use crate::cli::Format;
use crate::progress::Progress;
use crate::quantile;
use crate::seeds::Seeds;

/// One `--vary KEY=V1,V2,...`.
#[derive(Debug, Clone)]
pub struct Vary {
    key: String,
    values: Vec<toml::Value>,
}

/// Parses `KEY=V1,V2,...`; values are TOML values (numbers, `"strings"`, booleans).
pub fn parse_vary(s: &str) -> Result<Vary, String> {
    let (key, values) = s
        .split_once('=')
        .ok_or_else(|| format!("--vary {s:?}: expected KEY=V1,V2,..."))?;
    let values = values
        .split(',')
        .map(|v| {
            let v = v.trim();
            toml::from_str::<toml::Table>(&format!("x = {v}"))
                .ok()
                .and_then(|mut t| t.remove("x"))
                // A bare word is a string (e.g. honour-ttl).
                .or_else(|| (!v.is_empty()).then(|| toml::Value::String(v.to_string())))
                .ok_or_else(|| format!("--vary {key}: {v:?} is not a value"))
        })
        .collect::<Result<Vec<_>, _>>()?;
    if key.trim().is_empty() || values.is_empty() {
        return Err(format!("--vary {s:?}: expected KEY=V1,V2,..."));
    }
    Ok(Vary {
        key: key.trim().to_string(),
        values,
    })
}

/// A `--require` condition, e.g. `rpo_p99<=60`.
#[derive(Debug, Clone)]
pub struct Require {
    metric: String,
    bound: f64,
}

/// Parses `METRIC<=BOUND` where METRIC is `rto_p50|p95|p99|max` or the same for `rpo`.
pub fn parse_require(s: &str) -> Result<Require, String> {
    let (m, b) = s
        .split_once("<=")
        .ok_or_else(|| format!("--require {s:?}: expected METRIC<=BOUND, e.g. rpo_p99<=60"))?;
    let metric = m.trim().to_string();
    let known = [
        "rto_p50", "rto_p95", "rto_p99", "rto_max", "rpo_p50", "rpo_p95", "rpo_p99", "rpo_max",
    ];
    if !known.contains(&metric.as_str()) {
        return Err(format!(
            "--require: unknown metric {metric:?}; one of {}",
            known.join(", ")
        ));
    }
    let bound = b
        .trim()
        .parse()
        .map_err(|_| format!("--require: {:?} is not a number", b.trim()))?;
    Ok(Require { metric, bound })
}

/// The segments of a `--vary` key: names, each with an optional index.
fn segments(key: &str) -> Result<Vec<(String, Option<usize>)>, String> {
    let mut segs: Vec<(String, Option<usize>)> = Vec::new();
    for part in key.split('.') {
        match part.split_once('[') {
            Some((name, idx)) => {
                let i = idx
                    .strip_suffix(']')
                    .and_then(|x| x.parse().ok())
                    .ok_or_else(|| format!("{key}: bad index in {part:?}"))?;
                segs.push((name.to_string(), Some(i)));
            }
            None => segs.push((part.to_string(), None)),
        }
    }
    Ok(segs)
}

/// `text` with the value at `key` replaced in place by `value`, so every
/// other line keeps its number and a problem with the new value is
/// reported on the line that holds it. `None` when the key is not an
/// inline value of the file (absent, or a `[table]`): the caller then
/// rewrites the whole document.
fn splice(text: &str, key: &str, value: &toml::Value) -> Option<String> {
    use toml::de::{DeTable, DeValue};
    let doc = DeTable::parse(text).ok()?;
    let segs = segments(key).ok()?;
    let mut node: Option<&toml::Spanned<DeValue<'_>>> = None;
    for (name, idx) in &segs {
        let table = match node.map(|n| n.get_ref()) {
            None => doc.get_ref(),
            Some(DeValue::Table(t)) => t,
            Some(_) => return None,
        };
        let mut v = table.get(name.as_str())?;
        if let Some(i) = idx {
            match v.get_ref() {
                DeValue::Array(a) => v = a.get(*i)?,
                _ => return None,
            }
        }
        node = Some(v);
    }
    let node = node?;
    let span = node.span();
    let inline_at = |at: std::ops::Range<usize>| text.get(at).is_some_and(|t| t.starts_with('{'));
    // A `[table]` header's span covers the header only: not a value to splice.
    let inline = match node.get_ref() {
        DeValue::Table(_) => inline_at(span.clone()),
        DeValue::Array(a) => a
            .iter()
            .all(|x| !matches!(x.get_ref(), DeValue::Table(_)) || inline_at(x.span())),
        _ => true,
    };
    if !inline {
        return None;
    }
    Some(format!(
        "{}{value}{}",
        &text[..span.start],
        &text[span.end..]
    ))
}

/// Sets `key` (dotted, with `[i]` indexes: `links[0].bandwidth_mbps`) in a table.
fn set(table: &mut toml::Table, key: &str, value: toml::Value) -> Result<(), String> {
    let segs = segments(key)?;
    let (last, path) = segs
        .split_last()
        .ok_or_else(|| format!("{key}: empty key"))?;
    let mut cur = table;
    for (name, idx) in path {
        let v = cur
            .get_mut(name)
            .ok_or_else(|| format!("{key}: the scenario has no {name:?}"))?;
        let v = match idx {
            Some(i) => v
                .as_array_mut()
                .and_then(|a| a.get_mut(*i))
                .ok_or_else(|| format!("{key}: {name}[{i}] does not exist"))?,
            None => v,
        };
        cur = v
            .as_table_mut()
            .ok_or_else(|| format!("{key}: {name} is not a table"))?;
    }
    match &last.1 {
        None => {
            cur.insert(last.0.clone(), value);
        }
        Some(i) => {
            let arr = cur
                .get_mut(&last.0)
                .and_then(toml::Value::as_array_mut)
                .ok_or_else(|| format!("{key}: {} is not an array", last.0))?;
            *arr.get_mut(*i)
                .ok_or_else(|| format!("{key}: index {i} does not exist"))? = value;
        }
    }
    Ok(())
}

/// Distribution of one metric (seconds); `None` runs (never restored) count
/// as +∞. Each quantile comes with its 95 % upper confidence bound
/// (`None`: too few runs to bound it, or the bounding run never recovered)
/// and, in JSON, its 95 % lower bound (`drlab sla` prints both). The
/// reports crate's type, which the HTML page draws.
type Dist = drlab_reports::SweepQuantiles;

fn dist(mut xs: Vec<Option<f64>>) -> Dist {
    // None (not restored / unknown) sorts last: it is worse than any number.
    xs.sort_by(|a, b| match (a, b) {
        (Some(x), Some(y)) => x.total_cmp(y),
        (Some(_), None) => std::cmp::Ordering::Less,
        (None, Some(_)) => std::cmp::Ordering::Greater,
        (None, None) => std::cmp::Ordering::Equal,
    });
    Dist {
        p50: quantile::nearest_rank(&xs, 0.50),
        p95: quantile::nearest_rank(&xs, 0.95),
        p99: quantile::nearest_rank(&xs, 0.99),
        max: quantile::nearest_rank(&xs, 1.0),
        p50_upper95: quantile::upper_bound(&xs, 0.50),
        p95_upper95: quantile::upper_bound(&xs, 0.95),
        p99_upper95: quantile::upper_bound(&xs, 0.99),
        p50_lower95: quantile::lower_bound(&xs, 0.50),
        p95_lower95: quantile::lower_bound(&xs, 0.95),
        p99_lower95: quantile::lower_bound(&xs, 0.99),
    }
}

#[derive(Debug, Serialize)]
struct Row {
    variant: String,
    runs: u64,
    pass_ratio: f64,
    rto_s: Dist,
    rpo_s: Dist,
    lost_writes_mean: f64,
    meets_requirement: Option<bool>,
}

impl Row {
    /// The value a requirement is judged on: a quantile's 95 % upper
    /// confidence bound (a requirement is met only when the runs show it
    /// with that confidence), or the largest value observed for `max`.
    fn judged(&self, name: &str) -> Option<f64> {
        let d = if name.starts_with("rto") {
            self.rto_s
        } else {
            self.rpo_s
        };
        match &name[4..] {
            "p50" => d.p50_upper95,
            "p95" => d.p95_upper95,
            "p99" => d.p99_upper95,
            _ => d.max,
        }
    }
}

/// The quantile a metric name speaks of (`rpo_p99`: 0.99), or `None` for `max`.
fn quantile_of(metric: &str) -> Option<f64> {
    match &metric[4..] {
        "p50" => Some(0.50),
        "p95" => Some(0.95),
        "p99" => Some(0.99),
        _ => None,
    }
}

/// The reports of `seeds` simulated runs of `s` on `jobs` threads, in seed
/// order, calling `ran` after each run (from its job's thread), for
/// progress: the reports do not depend on it.
fn runs_with(
    s: &drlab_scenarios::Scenario,
    seeds: Seeds,
    jobs: u64,
    ran: &(dyn Fn() + Sync),
) -> Result<Vec<Report>> {
    runs_map(s, seeds, jobs, ran, &|r| r)
}

/// [`runs_with`], each report turned into `map(report)` as soon as its run
/// ends, so only what `map` keeps stays in memory (`drlab sla`'s runs).
pub(crate) fn runs_map<T: Send>(
    s: &drlab_scenarios::Scenario,
    seeds: Seeds,
    jobs: u64,
    ran: &(dyn Fn() + Sync),
    map: &(dyn Fn(Report) -> T + Sync),
) -> Result<Vec<T>> {
    let results = std::thread::scope(|scope| -> Result<Vec<Vec<T>>> {
        let handles: Vec<_> = seeds
            .split(jobs)
            .into_iter()
            .map(|chunk| {
                scope.spawn(move || -> Result<Vec<T>> {
                    // One world per job, copied for each of its runs.
                    let prepared = drlab_sim::Prepared::new(s);
                    chunk
                        .iter()
                        .map(|seed| {
                            let (r, _) = super::simulate_report(&prepared, seed)
                                .with_context(|| format!("simulation with seed {seed} failed"))?;
                            ran();
                            Ok(map(r))
                        })
                        .collect()
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .map_err(|_| anyhow::anyhow!("a sweep job panicked"))?
            })
            .collect()
    })?;
    // Chunks are in seed order, so the concatenation is too: the summary
    // does not depend on thread timing.
    Ok(results.into_iter().flatten().collect())
}

/// What `drlab sweep` was asked.
pub struct SweepArgs<'a> {
    /// The scenario file.
    pub scenario: &'a Path,
    /// Runs per variant.
    pub seeds: u64,
    /// The first seed (default: the scenario's).
    pub first_seed: Option<u64>,
    /// Parallel jobs.
    pub jobs: u64,
    /// The `--vary` keys, whose values' product gives the variants.
    pub vary: &'a [Vary],
    /// The `--require`, if any.
    pub require: Option<&'a Require>,
    /// What standard output gets.
    pub format: Format,
    /// Where sweep.md, sweep.json and sweep.html go, if anywhere.
    pub out: Option<&'a Path>,
}

/// Runs the sweep.
pub fn sweep(a: &SweepArgs<'_>) -> Result<Outcome> {
    let SweepArgs {
        scenario: path,
        seeds,
        first_seed,
        jobs,
        vary,
        require,
        format,
        out: out_dir,
    } = *a;
    anyhow::ensure!(
        (1..=1_000_000).contains(&seeds),
        "--seeds must be between 1 and 1000000"
    );
    anyhow::ensure!((1..=64).contains(&jobs), "--jobs must be between 1 and 64");
    let base = super::load(path)?;
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let table: toml::Table =
        toml::from_str(&text).with_context(|| format!("{} is not TOML", path.display()))?;
    let first = first_seed.unwrap_or(base.scenario.seed);
    let seed_range = Seeds::new(first, seeds).context("--seed with --seeds")?;

    // The cartesian product of the varied values.
    let mut variants: Vec<Vec<(String, toml::Value)>> = vec![Vec::new()];
    for v in vary {
        variants = variants
            .into_iter()
            .flat_map(|prefix| {
                v.values.iter().map(move |x| {
                    let mut p = prefix.clone();
                    p.push((v.key.clone(), x.clone()));
                    p
                })
            })
            .collect();
    }
    anyhow::ensure!(
        variants.len() <= 1000,
        "{} variants: at most 1000 per sweep",
        variants.len()
    );

    let mut rows = Vec::new();
    // What the HTML page draws beyond the rows: every run's RTO and RPO
    // and the objectives, kept only when a page is written.
    let page_wanted = format == Format::Html || out_dir.is_some();
    let mut drawn: Vec<PageRuns> = Vec::new();
    // on stderr, a bar or bounded lines (crate::progress); never stdout
    let progress = Progress::new("sweep", Some(variants.len() as u64 * seeds), "runs");
    for (i, settings) in variants.iter().enumerate() {
        let mut t = table.clone();
        for (k, v) in settings {
            set(&mut t, k, v.clone()).map_err(|e| anyhow::anyhow!("--vary {e}"))?;
        }
        // In place where the file holds the values, so problems point into
        // the file itself; else a rewritten copy, named as such.
        let spliced = settings
            .iter()
            .try_fold(text.clone(), |acc, (k, v)| splice(&acc, k, v));
        let (edited, shown) = match spliced {
            Some(x) => (x, path.to_path_buf()),
            None => {
                let shown = format!(
                    "{} (rewritten with --vary; lines refer to the copy)",
                    path.display()
                );
                (toml::to_string(&t)?, std::path::PathBuf::from(shown))
            }
        };
        let name = if settings.is_empty() {
            "(as written)".to_string()
        } else {
            settings
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join(" ")
        };
        let s = drlab_scenarios::parse(&shown, &edited)
            .map_err(|e| anyhow::anyhow!("with {name}:\n{e}"))?;
        if variants.len() > 1 {
            progress.set_message(&format!("variant {}/{}: {name}", i + 1, variants.len()));
        }
        let reports = runs_with(&s, seed_range, jobs, &|| progress.inc(1))?;
        let passed = reports
            .iter()
            .filter(|r| r.verdict == Verdict::Pass)
            .count();
        let mut row = Row {
            variant: name,
            runs: reports.len() as u64,
            pass_ratio: passed as f64 / reports.len() as f64,
            rto_s: dist(reports.iter().map(|r| r.rto_s).collect()),
            rpo_s: dist(reports.iter().map(|r| r.rpo_s).collect()),
            lost_writes_mean: reports.iter().map(|r| r.lost_writes as f64).sum::<f64>()
                / reports.len() as f64,
            meets_requirement: None,
        };
        if let Some(req) = require {
            row.meets_requirement = Some(row.judged(&req.metric).is_some_and(|x| x <= req.bound));
        }
        rows.push(row);
        if page_wanted {
            drawn.push(PageRuns {
                settings: settings
                    .iter()
                    .map(|(k, v)| (k.clone(), v.to_string()))
                    .collect(),
                rto: reports.iter().map(|r| r.rto_s).collect(),
                rpo: reports.iter().map(|r| r.rpo_s).collect(),
                objectives: reports
                    .first()
                    .map_or((0.0, 0.0), |r| (r.objectives.rto_s, r.objectives.rpo_s)),
            });
        }
    }
    progress.finish();
    if vary.is_empty() && variants.len() == 1 && rows.is_empty() {
        bail!("nothing to run");
    }

    let json = serde_json::to_string_pretty(&rows)? + "\n";
    let table = summary(path, seeds, first, &rows, require);
    let page = page_wanted.then(|| {
        drlab_reports::sweep_html(&page_of(path, seeds, first, vary, require, &rows, drawn))
    });
    if let Some(dir) = out_dir {
        let files: [(&str, &[u8]); 3] = [
            (ARTEFACTS[0], table.as_bytes()),
            (ARTEFACTS[1], json.as_bytes()),
            (ARTEFACTS[2], page.as_deref().unwrap_or_default().as_bytes()),
        ];
        crate::output::write_set(dir, &files, &ARTEFACTS)?;
    }
    out(&match format {
        Format::Json => json,
        Format::Html => page.unwrap_or_default(),
        Format::Text | Format::Md => table,
    });
    Ok(match require {
        Some(_) if !rows.iter().any(|r| r.meets_requirement == Some(true)) => Outcome::Fail,
        _ => Outcome::Pass,
    })
}

/// The files `drlab sweep --out DIR` writes.
const ARTEFACTS: [&str; 3] = ["sweep.md", "sweep.json", "sweep.html"];

/// What the page draws of one variant beyond its row.
struct PageRuns {
    settings: Vec<(String, String)>,
    rto: Vec<Option<f64>>,
    rpo: Vec<Option<f64>>,
    objectives: (f64, f64),
}

/// The sweep as the HTML page takes it.
fn page_of(
    path: &Path,
    seeds: u64,
    first: u64,
    vary: &[Vary],
    require: Option<&Require>,
    rows: &[Row],
    drawn: Vec<PageRuns>,
) -> drlab_reports::SweepPage {
    drlab_reports::SweepPage {
        scenario: path.display().to_string(),
        seeds,
        first_seed: first,
        vary: vary
            .iter()
            .map(|v| {
                let values = v.values.iter().map(ToString::to_string).collect();
                (v.key.clone(), values)
            })
            .collect(),
        variants: rows
            .iter()
            .zip(drawn)
            .map(|(r, d)| drlab_reports::SweepVariant {
                name: r.variant.clone(),
                settings: d.settings,
                runs: r.runs,
                pass_ratio: r.pass_ratio,
                lost_writes_mean: r.lost_writes_mean,
                rto: drlab_reports::SweepMetric {
                    samples: d.rto,
                    q: r.rto_s,
                },
                rpo: drlab_reports::SweepMetric {
                    samples: d.rpo,
                    q: r.rpo_s,
                },
                rto_objective_s: d.objectives.0,
                rpo_objective_s: d.objectives.1,
                meets: r.meets_requirement,
            })
            .collect(),
        require: require.map(|r| drlab_reports::SweepRequire {
            metric: r.metric.clone(),
            bound: r.bound,
        }),
    }
}

/// The table of the rows, with what the requirement needs and its answer.
fn summary(path: &Path, seeds: u64, first: u64, rows: &[Row], require: Option<&Require>) -> String {
    let f = |x: Option<f64>| x.map_or_else(|| "∞".to_string(), |v| format!("{v:.1}"));
    // A quantile with its 95 % confidence interval: `216.0 [212.5, 218.0]`
    // (`–` below: too few runs for a lower bound; `∞` above: for an upper).
    let fq = |x: Option<f64>, lo: Option<f64>, up: Option<f64>| {
        let lo = lo.map_or_else(|| "–".to_string(), |v| format!("{v:.1}"));
        format!("{} [{lo}, {}]", f(x), f(up))
    };
    {
        {
            let mut t = format!(
                "sweep of {} over {seeds} seeds from {first}; quantiles with their 95 % confidence \
                 interval (– or ∞: too few runs to bound it)\n\n\
                 | variant | runs | pass | RTO p50 | p95 | p99 | max | RPO p50 | p95 | p99 | max | lost writes (mean) |{}\n\
                 |---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|{}\n",
                path.display(),
                if require.is_some() { " meets |" } else { "" },
                if require.is_some() { "---|" } else { "" },
            );
            for r in rows {
                t += &format!(
                    "| {} | {} | {:.0}% | {} | {} | {} | {} | {} | {} | {} | {} | {:.1} |{}\n",
                    r.variant,
                    r.runs,
                    r.pass_ratio * 100.0,
                    fq(r.rto_s.p50, r.rto_s.p50_lower95, r.rto_s.p50_upper95),
                    fq(r.rto_s.p95, r.rto_s.p95_lower95, r.rto_s.p95_upper95),
                    fq(r.rto_s.p99, r.rto_s.p99_lower95, r.rto_s.p99_upper95),
                    f(r.rto_s.max),
                    fq(r.rpo_s.p50, r.rpo_s.p50_lower95, r.rpo_s.p50_upper95),
                    fq(r.rpo_s.p95, r.rpo_s.p95_lower95, r.rpo_s.p95_upper95),
                    fq(r.rpo_s.p99, r.rpo_s.p99_lower95, r.rpo_s.p99_upper95),
                    f(r.rpo_s.max),
                    r.lost_writes_mean,
                    match r.meets_requirement {
                        Some(true) => " yes |",
                        Some(false) => " no |",
                        None => "",
                    }
                );
            }
            if let Some(req) = require {
                if let Some(p) = quantile_of(&req.metric)
                    && seeds < quantile::runs_needed(p)
                {
                    t += &format!(
                        "\n{seeds} runs per variant cannot show {} with 95 % confidence: \
                         run at least {} (--seeds {})\n",
                        req.metric,
                        quantile::runs_needed(p),
                        quantile::runs_needed(p)
                    );
                }
                let ok: Vec<&Row> = rows
                    .iter()
                    .filter(|r| r.meets_requirement == Some(true))
                    .collect();
                t += &match ok.first() {
                    None => format!(
                        "\nno variant meets {}<={} with 95 % confidence\n",
                        req.metric, req.bound
                    ),
                    Some(first) => format!(
                        "\n{} of {} variants meet {}<={} with 95 % confidence; the first in \
                         the order given: {}\n",
                        ok.len(),
                        rows.len(),
                        req.metric,
                        req.bound,
                        first.variant
                    ),
                };
            }
            t
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_are_nearest_rank_and_unrestored_runs_are_worst() {
        let xs: Vec<Option<f64>> = (1..=100).map(|x| Some(x as f64)).collect();
        let d = dist(xs);
        assert_eq!(
            (d.p50, d.p95, d.p99, d.max),
            (Some(50.0), Some(95.0), Some(99.0), Some(100.0))
        );
        let mut ys: Vec<Option<f64>> = (1..=99).map(|x| Some(x as f64)).collect();
        ys.push(None);
        let d = dist(ys);
        assert_eq!(d.p99, Some(99.0));
        assert_eq!(d.max, None);
        // 100 runs bound p50 within [42, 59] and p99 only from below.
        let d = dist((1..=100).map(|x| Some(x as f64)).collect());
        assert_eq!((d.p50_lower95, d.p50_upper95), (Some(42.0), Some(59.0)));
        assert_eq!((d.p99_lower95.is_some(), d.p99_upper95), (true, None));
    }

    #[test]
    fn keys_with_indexes_are_set_and_bad_keys_named() {
        let mut t: toml::Table =
            toml::from_str("[[sites]]\nname='a'\nlan={ latency_ms=1.0, bandwidth_mbps=10.0 }\n")
                .unwrap();
        set(
            &mut t,
            "sites[0].lan.bandwidth_mbps",
            toml::Value::Float(5.0),
        )
        .unwrap();
        assert_eq!(t["sites"][0]["lan"]["bandwidth_mbps"].as_float(), Some(5.0));
        let e = set(&mut t, "sites[3].lan.x", toml::Value::Float(1.0)).unwrap_err();
        assert!(e.contains("sites[3] does not exist"), "{e}");
        let e = set(&mut t, "nope.x", toml::Value::Float(1.0)).unwrap_err();
        assert!(e.contains("no \"nope\""), "{e}");
    }

    #[test]
    fn vary_and_require_parse() {
        let v = parse_vary("policy.decision=manual,autopilot").unwrap();
        assert_eq!(v.values[1].as_str(), Some("autopilot"));
        let v = parse_vary("links[0].bandwidth_mbps=1.5,10").unwrap();
        assert_eq!(v.values[1].as_integer(), Some(10));
        assert!(parse_vary("nokey").is_err());
        assert!(parse_require("rpo_p99<=60").is_ok());
        assert!(parse_require("rpo_p98<=60").is_err());
        assert!(parse_require("rpo_p99<=sixty").is_err());
    }
}
