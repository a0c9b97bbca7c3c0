//! `drlab sla` plans: failure classes with their rates and the scenario that
//! recovers from each, planned maintenance windows, user tiers with their
//! downtime budgets, and protection alternatives that recover the same
//! failures with other scenarios (docs/sla.md).
//!
//! A plan loads like a scenario ([`crate::load`]): TOML, then the types,
//! then every number against the one bounds table ([`crate::bounds`]), then
//! the references, each problem as `file:line:column: field: message`. The
//! scenarios a plan names are loaded with it (paths relative to the plan
//! file), so a plan that loads runs.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::load::{FieldPath, ScenarioError};
use crate::{Scenario, path};

/// Seconds in a week.
pub const WEEK_S: f64 = 7.0 * 86_400.0;
/// Seconds in a (Julian) year, 365.25 days.
pub const YEAR_S: f64 = 365.25 * 86_400.0;
/// Hours in a year, for MTBF.
pub const YEAR_H: f64 = YEAR_S / 3600.0;

/// Most tiers, failure classes, maintenance windows and protection
/// alternatives a plan may have.
pub const TIERS_MAX: usize = 16;
/// See [`TIERS_MAX`].
pub const FAILURES_MAX: usize = 32;
/// See [`TIERS_MAX`].
pub const MAINTENANCE_MAX: usize = 16;
/// See [`TIERS_MAX`] (the plan's own choice counts too).
pub const PROTECTIONS_MAX: usize = 8;
/// Most mailboxes or stores a tier names.
pub const MEMBERS_MAX: usize = 1000;

/// A plan file.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Plan {
    /// Name, description, seed.
    pub plan: Header,
    /// User tiers and their budgets.
    pub tiers: Vec<Tier>,
    /// Failure classes.
    #[serde(default)]
    pub failures: Vec<Failure>,
    /// Planned maintenance.
    #[serde(default)]
    pub maintenance: Vec<Maintenance>,
    /// Other protection choices, side by side with the plan's own.
    #[serde(default)]
    pub protection: Vec<Protection>,
}

/// `[plan]`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Header {
    /// Name.
    pub name: String,
    /// What the plan models.
    #[serde(default)]
    pub description: String,
    /// Default seed of the runs and of the Monte Carlo.
    #[serde(default = "default_seed")]
    pub seed: u64,
    /// The name of the protection the failure classes' own scenarios give.
    #[serde(default = "default_protection")]
    pub protection: String,
}

fn default_seed() -> u64 {
    1
}

fn default_protection() -> String {
    "as planned".into()
}

/// `[[tiers]]`: a group of users with one budget.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Tier {
    /// Name.
    pub name: String,
    /// Its mailboxes (names in the scenarios of its failure classes).
    #[serde(default)]
    pub mailboxes: Vec<String>,
    /// Its stores (names in the scenarios of its failure classes).
    #[serde(default)]
    pub stores: Vec<String>,
    /// Its downtime budget.
    pub budget: Budget,
}

/// A downtime budget: at most `downtime_s` (or the downtime an
/// availability target leaves) per period, in at least
/// `meet_probability` of the periods.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Budget {
    /// Allowed downtime per period.
    pub downtime_s: Option<f64>,
    /// Or an availability target (99.99).
    pub availability_pct: Option<f64>,
    /// The period the budget is per.
    pub per: Period,
    /// The share of periods that must stay within the budget, at most
    /// 0.9999 (the bounds table): a finite sample never shows 1.
    #[serde(default = "default_meet")]
    pub meet_probability: f64,
}

fn default_meet() -> f64 {
    0.95
}

impl Budget {
    /// The allowed downtime per period, in seconds.
    pub fn allowed_s(&self) -> f64 {
        match (self.downtime_s, self.availability_pct) {
            (Some(d), _) => d,
            (None, Some(pct)) => (1.0 - pct / 100.0) * self.per.seconds(),
            // Validation requires one of the two.
            (None, None) => 0.0,
        }
    }
}

/// A budget's period.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Period {
    /// 7 days.
    Week,
    /// A twelfth of a year.
    Month,
    /// 365.25 days.
    Year,
}

impl Period {
    /// Its length in seconds.
    pub fn seconds(self) -> f64 {
        match self {
            Period::Week => WEEK_S,
            Period::Month => YEAR_S / 12.0,
            Period::Year => YEAR_S,
        }
    }

    /// Its name.
    pub fn name(self) -> &'static str {
        match self {
            Period::Week => "week",
            Period::Month => "month",
            Period::Year => "year",
        }
    }
}

/// `[[failures]]`: a failure class.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Failure {
    /// Name.
    pub name: String,
    /// What fails, in words.
    #[serde(default)]
    pub what: String,
    /// How many components can fail this way (each at the rate below).
    #[serde(default = "default_components")]
    pub components: u64,
    /// Failures per component per year (annual failure rate) ...
    pub failures_per_year: Option<f64>,
    /// ... or its mean time between failures.
    pub mtbf_h: Option<f64>,
    /// The scenario that recovers from it (relative to the plan file).
    pub scenario: String,
    /// The tiers whose users it takes offline.
    pub tiers: Vec<String>,
    /// The outage to count when a run of the scenario never serves users
    /// again within its horizon (e.g. until an operator notices and
    /// restarts by hand). Without it `drlab sla` refuses a class one of
    /// whose runs never recovered: the time until the drill ends would
    /// understate the outage.
    pub unrecovered_outage_s: Option<f64>,
}

fn default_components() -> u64 {
    1
}

impl Failure {
    /// The class's rate: failures per year over all its components.
    pub fn rate_per_year(&self) -> f64 {
        let per_component = match (self.failures_per_year, self.mtbf_h) {
            (Some(r), _) => r,
            (None, Some(h)) => YEAR_H / h,
            // Validation requires one of the two.
            (None, None) => 0.0,
        };
        per_component * self.components as f64
    }
}

/// `[[maintenance]]`: planned downtime.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Maintenance {
    /// Name.
    pub name: String,
    /// How long one window lasts.
    pub duration_s: f64,
    /// How many windows a year (12: monthly), evenly spaced.
    pub windows_per_year: f64,
    /// The tiers it takes offline.
    pub tiers: Vec<String>,
    /// Of those, the tiers whose budget it does not count against (their
    /// SLA excludes it: "24×7 except a monthly maintenance window").
    #[serde(default)]
    pub excluded: Vec<String>,
}

/// `[[protection]]`: the same failures recovered by other scenarios.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Protection {
    /// Name.
    pub name: String,
    /// What it is.
    #[serde(default)]
    pub description: String,
    /// Failure class name → its scenario under this protection; classes
    /// not named keep their own.
    pub scenarios: BTreeMap<String, String>,
}

/// A plan with its scenarios loaded.
#[derive(Clone, Debug)]
pub struct LoadedPlan {
    /// The plan as written.
    pub plan: Plan,
    /// The protection choices, the plan's own first.
    pub choices: Vec<Choice>,
    /// Every scenario named, by resolved path.
    pub scenarios: BTreeMap<PathBuf, Scenario>,
}

/// One protection choice: a scenario per failure class.
#[derive(Clone, Debug)]
pub struct Choice {
    /// Its name.
    pub name: String,
    /// Its description.
    pub description: String,
    /// The resolved scenario path of each failure class, in plan order.
    pub scenarios: Vec<PathBuf>,
}

/// Loads and validates a plan and the scenarios it names.
pub fn load(path: &Path) -> Result<LoadedPlan, ScenarioError> {
    let text = std::fs::read_to_string(path).map_err(|source| ScenarioError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    parse(path, &text)
}

/// Parses and validates plan text; scenarios are found relative to `path`.
pub fn parse(path: &Path, text: &str) -> Result<LoadedPlan, ScenarioError> {
    let dir = path.parent().unwrap_or(Path::new("")).to_path_buf();
    let mut scenarios = BTreeMap::new();
    let plan: Plan = crate::load::parse_located(
        path,
        text,
        |_| crate::bounds::Budget {
            horizon_s: 0.0,
            events_max: crate::bounds::EVENTS_MAX_DEFAULT,
        },
        |plan: &Plan| {
            let mut problems = check_names(plan);
            if problems.is_empty() {
                problems = check_scenarios(plan, &dir, &mut scenarios);
            }
            problems
        },
    )?;
    let choices = choices(&plan, &dir);
    Ok(LoadedPlan {
        plan,
        choices,
        scenarios,
    })
}

/// The plan's own choice, then each `[[protection]]`.
fn choices(plan: &Plan, dir: &Path) -> Vec<Choice> {
    let own = Choice {
        name: plan.plan.protection.clone(),
        description: String::new(),
        scenarios: plan
            .failures
            .iter()
            .map(|f| dir.join(&f.scenario))
            .collect(),
    };
    let others = plan.protection.iter().map(|p| Choice {
        name: p.name.clone(),
        description: p.description.clone(),
        scenarios: plan
            .failures
            .iter()
            .map(|f| dir.join(p.scenarios.get(&f.name).unwrap_or(&f.scenario)))
            .collect(),
    });
    std::iter::once(own).chain(others).collect()
}

type Problems = Vec<(FieldPath, String)>;

/// Names unique and references resolved, counts bounded, one of each
/// alternative given.
fn check_names(plan: &Plan) -> Problems {
    let mut out = Vec::new();
    if plan.plan.name.trim().is_empty() {
        out.push((path!("plan", "name"), "a plan needs a name".into()));
    }
    check_count(&mut out, "tiers", plan.tiers.len(), 1, TIERS_MAX);
    check_count(&mut out, "failures", plan.failures.len(), 0, FAILURES_MAX);
    check_count(
        &mut out,
        "maintenance",
        plan.maintenance.len(),
        0,
        MAINTENANCE_MAX,
    );
    check_count(
        &mut out,
        "protection",
        plan.protection.len(),
        0,
        PROTECTIONS_MAX - 1,
    );
    unique(
        &mut out,
        "tiers",
        plan.tiers.iter().map(|t| t.name.as_str()),
    );
    unique(
        &mut out,
        "failures",
        plan.failures.iter().map(|f| f.name.as_str()),
    );
    unique(
        &mut out,
        "maintenance",
        plan.maintenance.iter().map(|m| m.name.as_str()),
    );
    let protections = std::iter::once(plan.plan.protection.as_str())
        .chain(plan.protection.iter().map(|p| p.name.as_str()));
    unique(&mut out, "protection", protections);
    let tiers: BTreeSet<&str> = plan.tiers.iter().map(|t| t.name.as_str()).collect();
    for (i, t) in plan.tiers.iter().enumerate() {
        check_tier(&mut out, i, t);
    }
    for (i, f) in plan.failures.iter().enumerate() {
        check_failure(&mut out, i, f, &tiers);
    }
    for (i, m) in plan.maintenance.iter().enumerate() {
        check_maintenance(&mut out, i, m, &tiers);
    }
    let failures: BTreeSet<&str> = plan.failures.iter().map(|f| f.name.as_str()).collect();
    for (i, p) in plan.protection.iter().enumerate() {
        for name in p.scenarios.keys() {
            if !failures.contains(name.as_str()) {
                out.push((
                    path!("protection", i, "scenarios", name.as_str()),
                    format!("no failure class is named {name:?}"),
                ));
            }
        }
    }
    out
}

fn check_count(out: &mut Problems, key: &str, n: usize, min: usize, max: usize) {
    if n < min || n > max {
        out.push((
            path!(key),
            format!("{n} entries: a plan has {min} to {max} [[{key}]]"),
        ));
    }
}

fn unique<'a>(out: &mut Problems, key: &str, names: impl Iterator<Item = &'a str>) {
    let mut seen = BTreeSet::new();
    for (i, n) in names.enumerate() {
        // The plan's own protection is `plan.protection`, the others follow.
        let at = match (key, i) {
            ("protection", 0) => path!("plan", "protection"),
            ("protection", i) => path!("protection", i - 1, "name"),
            _ => path!(key, i, "name"),
        };
        if n.trim().is_empty() {
            out.push((at, "a name must not be empty".into()));
        } else if !seen.insert(n) {
            out.push((at, format!("{n:?} is named twice")));
        }
    }
}

fn check_tier(out: &mut Problems, i: usize, t: &Tier) {
    if t.mailboxes.len() + t.stores.len() > MEMBERS_MAX {
        out.push((
            path!("tiers", i),
            format!("a tier names at most {MEMBERS_MAX} mailboxes and stores"),
        ));
    }
    let b = &t.budget;
    if b.downtime_s.is_some() == b.availability_pct.is_some() {
        out.push((
            path!("tiers", i, "budget"),
            "give either downtime_s (allowed downtime per period) or availability_pct \
             (e.g. 99.99), not both"
                .into(),
        ));
    } else if b.downtime_s.is_some_and(|d| d > b.per.seconds()) {
        out.push((
            path!("tiers", i, "budget", "downtime_s"),
            format!("more than a whole {}", b.per.name()),
        ));
    }
}

fn check_failure(out: &mut Problems, i: usize, f: &Failure, tiers: &BTreeSet<&str>) {
    if f.failures_per_year.is_some() == f.mtbf_h.is_some() {
        out.push((
            path!("failures", i),
            "give either failures_per_year (per component) or mtbf_h, not both".into(),
        ));
    }
    check_tier_refs(out, path!("failures", i, "tiers"), &f.tiers, tiers, true);
}

fn check_maintenance(out: &mut Problems, i: usize, m: &Maintenance, tiers: &BTreeSet<&str>) {
    if m.duration_s * m.windows_per_year > YEAR_S {
        out.push((
            path!("maintenance", i, "windows_per_year"),
            format!(
                "{} windows of {} s take more than a year",
                m.windows_per_year, m.duration_s
            ),
        ));
    }
    check_tier_refs(out, path!("maintenance", i, "tiers"), &m.tiers, tiers, true);
    let taken: BTreeSet<&str> = m.tiers.iter().map(String::as_str).collect();
    check_tier_refs(
        out,
        path!("maintenance", i, "excluded"),
        &m.excluded,
        &taken,
        false,
    );
}

/// Each name in `names` is in `known` (once); `nonempty`: at least one.
fn check_tier_refs(
    out: &mut Problems,
    at: FieldPath,
    names: &[String],
    known: &BTreeSet<&str>,
    nonempty: bool,
) {
    if nonempty && names.is_empty() {
        out.push((at.clone(), "name at least one tier".into()));
    }
    let mut seen = BTreeSet::new();
    for (j, n) in names.iter().enumerate() {
        if !known.contains(n.as_str()) {
            let of: Vec<&str> = known.iter().copied().collect();
            out.push((
                at.index(j),
                format!("{n:?} is not one of the tiers here ({})", of.join(", ")),
            ));
        } else if !seen.insert(n) {
            out.push((at.index(j), format!("{n:?} is named twice")));
        }
    }
}

/// Loads every named scenario (once each) and checks that it holds the
/// mailboxes and stores of the tiers its failure class affects.
fn check_scenarios(plan: &Plan, dir: &Path, loaded: &mut BTreeMap<PathBuf, Scenario>) -> Problems {
    let mut out = Vec::new();
    let mut uses: Vec<(FieldPath, &Failure, &str)> = plan
        .failures
        .iter()
        .enumerate()
        .map(|(i, f)| (path!("failures", i, "scenario"), f, f.scenario.as_str()))
        .collect();
    for (i, p) in plan.protection.iter().enumerate() {
        for (name, file) in &p.scenarios {
            if let Some(f) = plan.failures.iter().find(|f| &f.name == name) {
                uses.push((
                    path!("protection", i, "scenarios", name.as_str()),
                    f,
                    file.as_str(),
                ));
            }
        }
    }
    for (at, failure, file) in uses {
        let resolved = dir.join(file);
        if !loaded.contains_key(&resolved) {
            match crate::load::load(&resolved) {
                Ok(s) => {
                    loaded.insert(resolved.clone(), s);
                }
                Err(e) => {
                    let indented = e.to_string().replace('\n', "\n    ");
                    out.push((at, format!("the scenario does not load:\n    {indented}")));
                    continue;
                }
            }
        }
        if let Some(s) = loaded.get(&resolved) {
            check_members(&mut out, &at, plan, failure, s);
        }
    }
    out
}

/// The tiers of `failure` name only mailboxes and stores `s` has.
fn check_members(out: &mut Problems, at: &FieldPath, plan: &Plan, failure: &Failure, s: &Scenario) {
    let mailboxes: BTreeSet<&str> = s.mailboxes.iter().map(|m| m.name.as_str()).collect();
    let stores: BTreeSet<&str> = s
        .mailboxes
        .iter()
        .map(|m| m.store.as_str())
        .chain(
            s.exchange
                .iter()
                .flat_map(|x| &x.storage_groups)
                .flat_map(|g| &g.stores)
                .map(|st| st.name.as_str()),
        )
        .collect();
    for tier in plan
        .tiers
        .iter()
        .filter(|t| failure.tiers.contains(&t.name))
    {
        let missing: Vec<&str> = (tier
            .mailboxes
            .iter()
            .filter(|m| !mailboxes.contains(m.as_str())))
        .chain(tier.stores.iter().filter(|m| !stores.contains(m.as_str())))
        .map(String::as_str)
        .collect();
        if !missing.is_empty() {
            out.push((
                at.clone(),
                format!(
                    "scenario {:?} has none of tier {:?}'s {}: its runs cannot stand for \
                     that tier's users",
                    s.scenario.name,
                    tier.name,
                    missing.join(", ")
                ),
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn library_dir() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("plans")
    }

    /// A minimal plan in the plans directory, so that
    /// `../library/everrun-hardware-fault.toml` resolves.
    fn plan(body: &str) -> Result<LoadedPlan, ScenarioError> {
        let text = format!(
            "[plan]\nname = \"t\"\n\n[[tiers]]\nname = \"execs\"\nmailboxes = [\"alice\"]\n\
             budget = {{ downtime_s = 0, per = \"month\" }}\n\n{body}"
        );
        parse(&library_dir().join("t.toml"), &text)
    }

    fn error(body: &str) -> String {
        plan(body)
            .expect_err("the plan must be refused")
            .to_string()
    }

    const HARDWARE: &str = "[[failures]]\nname = \"hw\"\ncomponents = 2\nmtbf_h = 50000\n\
         scenario = \"../library/everrun-hardware-fault.toml\"\ntiers = [\"execs\"]\n";

    #[test]
    fn a_plan_loads_with_its_scenarios_and_rates() {
        let p = plan(HARDWARE).expect("loads");
        assert_eq!(p.choices.len(), 1);
        assert_eq!(p.scenarios.len(), 1);
        let rate = p.plan.failures[0].rate_per_year();
        assert!((rate - 2.0 * YEAR_H / 50_000.0).abs() < 1e-12, "{rate}");
        let b = &p.plan.tiers[0].budget;
        assert_eq!((b.allowed_s(), b.meet_probability), (0.0, 0.95));
    }

    #[test]
    fn an_availability_target_is_a_budget_per_period() {
        let b = Budget {
            downtime_s: None,
            availability_pct: Some(99.99),
            per: Period::Year,
            meet_probability: 0.9,
        };
        // 0.01 % of 365.25 days: 52.6 minutes.
        assert!((b.allowed_s() - 3155.76).abs() < 1e-6, "{}", b.allowed_s());
    }

    #[test]
    fn numbers_out_of_range_are_located_by_the_bounds_table() {
        let e = error(&HARDWARE.replace("mtbf_h = 50000", "mtbf_h = 0.5"));
        assert!(
            e.contains("t.toml:12:10: failures[0].mtbf_h: 0.5 is out of range"),
            "{e}"
        );
        let e = error(&HARDWARE.replace("components = 2", "components = 0"));
        assert!(
            e.contains("t.toml:11:14: failures[0].components: 0 is out of range"),
            "{e}"
        );
    }

    #[test]
    fn a_meet_probability_of_one_is_refused_since_no_sample_can_show_it() {
        let text = format!(
            "[plan]\nname = \"t\"\n\n[[tiers]]\nname = \"execs\"\nmailboxes = [\"alice\"]\n\
             budget = {{ downtime_s = 0, per = \"month\", meet_probability = 1.0 }}\n\n{HARDWARE}"
        );
        let e = parse(&library_dir().join("t.toml"), &text)
            .expect_err("refused")
            .to_string();
        assert!(
            e.contains(
                "tiers[0].budget.meet_probability: 1.0 is out of range: allowed 0 to 0.9999"
            ),
            "{e}"
        );
        let ok = text.replace("meet_probability = 1.0", "meet_probability = 0.9999");
        parse(&library_dir().join("t.toml"), &ok).expect("0.9999 loads");
    }

    #[test]
    fn unknown_tiers_and_fields_and_double_rates_are_refused_where_they_stand() {
        let e = error(&HARDWARE.replace("[\"execs\"]", "[\"execs\", \"nobody\"]"));
        assert!(
            e.contains("failures[0].tiers[1]: \"nobody\" is not one of the tiers"),
            "{e}"
        );
        let e = error(&HARDWARE.replace("mtbf_h = 50000", "mtbf_h = 50000\nfailures_per_year = 1"));
        assert!(
            e.contains("failures[0]: give either failures_per_year"),
            "{e}"
        );
        let e = error(&HARDWARE.replace("components", "componets"));
        assert!(
            e.contains("t.toml:11:1: failures[0].componets: unknown field"),
            "{e}"
        );
    }

    #[test]
    fn a_scenario_that_does_not_load_or_lacks_the_tiers_users_is_refused() {
        let e = error(&HARDWARE.replace("everrun-hardware-fault", "no-such"));
        assert!(
            e.contains("failures[0].scenario: the scenario does not load"),
            "{e}"
        );
        assert!(e.contains("no-such.toml: cannot read"), "{e}");
        let e = error(&format!(
            "{HARDWARE}\n[[protection]]\nname = \"x\"\nscenarios = {{ hw = \"../library/lan-failover.toml\", nope = \"../library/lan-failover.toml\" }}\n"
        ));
        assert!(
            e.contains("protection[0].scenarios.nope: no failure class"),
            "{e}"
        );
        let no_alice = plan(HARDWARE).map(|_| ()).and_then(|()| {
            let text = format!(
                "[plan]\nname = \"t\"\n[[tiers]]\nname = \"execs\"\nmailboxes = [\"zoe\"]\n\
                 budget = {{ downtime_s = 0, per = \"month\" }}\n{HARDWARE}"
            );
            parse(&library_dir().join("t.toml"), &text).map(|_| ())
        });
        let e = no_alice.expect_err("zoe is in no scenario").to_string();
        assert!(e.contains("has none of tier \"execs\"'s zoe"), "{e}");
    }

    #[test]
    fn protections_replace_the_scenarios_they_name() {
        let p = plan(&format!(
            "{HARDWARE}\n[[protection]]\nname = \"mirroring\"\nscenarios = {{ hw = \"../library/lan-failover.toml\" }}\n"
        ))
        .expect("loads");
        let names: Vec<&str> = p.choices.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, ["as planned", "mirroring"]);
        assert!(p.choices[1].scenarios[0].ends_with("lan-failover.toml"));
        assert_eq!(p.scenarios.len(), 2);
    }
}
