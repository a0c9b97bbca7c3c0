//! A test harness for lab test binaries (`harness = false`, libtest-mimic):
//! the lab is started once, lazily, when the first selected test needs it,
//! shared by the binary's tests (run one at a time: faults disturb it), and
//! removed at the end. A binary may need labs of several shapes
//! ([`run_lab_groups`]): each group of tests has its lab, started when its
//! first test runs, after the previous group's lab is removed, so one lab
//! runs at a time. Without Docker every selected test prints its SKIP
//! line — or fails under `DRLAB_REQUIRE_LAB=1`.

use std::process::ExitCode;
use std::sync::{Arc, Mutex};

use libtest_mimic::{Arguments, Failed, Trial};

use crate::lab::{Lab, LabOptions};

/// What a lab test returns.
pub type LabTestResult = Result<(), Box<dyn std::error::Error>>;

/// `Ok` when `cond` holds, else a failure saying `what`: the assertion of
/// lab tests, which report failures rather than panic mid-lab.
pub fn check(cond: bool, what: impl Into<String>) -> LabTestResult {
    if cond {
        Ok(())
    } else {
        Err(what.into().into())
    }
}

/// The body of a lab test, given the shared running lab.
pub type LabTestBody = Arc<dyn Fn(&Lab) -> LabTestResult + Send + Sync>;

/// One lab test: its name and body.
#[derive(Clone)]
pub struct LabTest {
    /// Test name (as `cargo test` filters and prints it).
    pub name: String,
    /// The body, given the shared running lab.
    pub body: LabTestBody,
}

impl LabTest {
    /// A test named `name` running `body` (a function, or a closure made
    /// per data item: one test per library scenario).
    pub fn new(
        name: impl Into<String>,
        body: impl Fn(&Lab) -> LabTestResult + Send + Sync + 'static,
    ) -> LabTest {
        LabTest {
            name: name.into(),
            body: Arc::new(body),
        }
    }
}

impl std::fmt::Debug for LabTest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LabTest").field("name", &self.name).finish()
    }
}

/// The options of one group's lab.
pub type LabOptionsFn = Arc<dyn Fn() -> LabOptions + Send + Sync>;

/// Tests that share one lab, made from `options()`.
pub struct LabGroup {
    /// The lab's options, called when the group's first test runs.
    pub options: LabOptionsFn,
    /// The group's tests, in order.
    pub tests: Vec<LabTest>,
}

impl LabGroup {
    /// A group of `tests` on a lab from `options()`.
    pub fn new(
        options: impl Fn() -> LabOptions + Send + Sync + 'static,
        tests: Vec<LabTest>,
    ) -> LabGroup {
        LabGroup {
            options: Arc::new(options),
            tests,
        }
    }
}

/// The running lab and the group it belongs to.
type Shared = Arc<Mutex<Option<(usize, Result<Lab, String>)>>>;

/// Runs `tests` against one lab made from `options()`; call it from the
/// `main` of a test binary and return its exit code.
pub fn run_lab_tests(
    options: impl Fn() -> LabOptions + Send + Sync + 'static,
    tests: Vec<LabTest>,
) -> ExitCode {
    run_lab_groups(vec![LabGroup::new(options, tests)])
}

/// Runs each group's tests against its own lab, one lab at a time; call it
/// from the `main` of a test binary and return its exit code.
pub fn run_lab_groups(groups: Vec<LabGroup>) -> ExitCode {
    let mut args = Arguments::from_args();
    // one at a time: tests share the lab and some of them inject faults
    args.test_threads = Some(1);
    let unreachable = crate::docker_unreachable_reason();
    let shared: Shared = Arc::new(Mutex::new(None));
    // A lab that could not be removed between groups is the binary's
    // failure, not the next group's first test's: it is reported at the
    // end, and that test runs on its own lab.
    let removals_failed: Arc<Mutex<Vec<String>>> = Arc::new(Mutex::new(Vec::new()));
    let mut trials = Vec::new();
    for (g, group) in groups.into_iter().enumerate() {
        for t in group.tests {
            let shared = shared.clone();
            let options = group.options.clone();
            let unreachable = unreachable.clone();
            let removals_failed = removals_failed.clone();
            trials.push(Trial::test(t.name.clone(), move || {
                if let Some(why) = &unreachable {
                    if crate::lab_required() {
                        return Err(Failed::from(format!(
                            "{}=1 but Docker is not reachable ({why})",
                            crate::REQUIRE_LAB_ENV
                        )));
                    }
                    let _ = crate::skip_or_fail(&t.name, why);
                    return Ok(());
                }
                let mut guard = shared.lock().unwrap_or_else(|p| p.into_inner());
                if guard.as_ref().is_some_and(|(owner, _)| *owner != g) {
                    let (_, previous) = guard.take().expect("checked");
                    if let Err(e) = remove(previous) {
                        #[allow(clippy::print_stderr)]
                        {
                            eprintln!("between lab groups: {e}");
                        }
                        removals_failed
                            .lock()
                            .unwrap_or_else(|p| p.into_inner())
                            .push(e);
                    }
                }
                let (_, lab) = guard
                    .get_or_insert_with(|| (g, Lab::start(options()).map_err(|e| e.to_string())));
                match lab {
                    Ok(lab) => (t.body)(lab).map_err(|e| Failed::from(e.to_string())),
                    Err(e) => Err(Failed::from(format!("the lab did not start: {e}"))),
                }
            }));
        }
    }
    let conclusion = libtest_mimic::run(&args, trials);
    let taken = shared.lock().unwrap_or_else(|p| p.into_inner()).take();
    let mut failed =
        std::mem::take(&mut *removals_failed.lock().unwrap_or_else(|p| p.into_inner()));
    if let Some((_, lab)) = taken
        && let Err(e) = remove(lab)
    {
        failed.push(e);
    }
    if !failed.is_empty() {
        #[allow(clippy::print_stderr)]
        {
            for e in &failed {
                eprintln!("{e}");
            }
        }
        return ExitCode::FAILURE;
    }
    conclusion.exit_code()
}

/// Removes a lab the harness started, and its directory (inventory,
/// known_hosts: of no use afterwards).
fn remove(lab: Result<Lab, String>) -> Result<(), String> {
    let Ok(lab) = lab else { return Ok(()) };
    let name = lab.name().to_string();
    let out_dir = lab.out_dir().to_path_buf();
    let down = lab.down();
    let _ = std::fs::remove_dir_all(out_dir);
    down.map(|_| ())
        .map_err(|e| format!("removing lab {name} failed: {e} (run: drlab lab down --name {name})"))
}
