//! drlab-labkit: the CI lab harness. It builds the lab image from
//! `lab/images/` (only when its recipe changed), starts the lab with
//! testcontainers on a private Docker network — a Samba AD domain
//! controller `DC1`, the active mail host `EXCH1` replicating its store to
//! the standby `EXCH2` (lsyncd/rsync), both computer accounts of the domain,
//! and a client host `CLIENT1` — writes the lab's inventory, and removes
//! everything again. [`Shape::Wan`] starts two sites instead, `hq` (DC1,
//! EXCH1, CLIENT1) and `dr` (DC2, a second DC of the domain, and EXCH2),
//! each a network, with a router container between them.
//!
//! ```no_run
//! let lab = drlab_labkit::Lab::start(drlab_labkit::LabOptions::new("/tmp/lab"))?;
//! println!("{}", lab.inventory_path().display());
//! lab.down()?;
//! # Ok::<(), drlab_labkit::LabError>(())
//! ```
//!
//! Everything it creates is named `drlab-<lab>-*` and labelled
//! `drlab.lab=<lab>`; [`down_by_name`] removes a lab by that label, also
//! what a crashed run left. Lab tests use [`require_lab_or_skip`] (or
//! [`run_lab_tests`]) so that a machine without Docker skips them with one
//! clear line — and fails them when `DRLAB_REQUIRE_LAB=1` (CI).

mod build;
mod docker;
mod harness;
mod inventory;
mod lab;
mod secrets;
mod shaped;

pub use build::build_image;
pub use docker::{DOCKER_CALL_TIMEOUT_MS, docker};
pub use harness::{LabGroup, LabTest, LabTestResult, check, run_lab_groups, run_lab_tests};
pub use inventory::{HostPlan, MAIL_ROOT, SERVICE_MAP, write_atomic};
pub use lab::{
    BIND_PORT, DownReport, LAB_LABEL, Lab, LabError, LabOptions, OWNER_PID_LABEL, Progress, Shape,
    Site, WAN_ROUTER, default_images_dir, down_by_name,
};
pub use secrets::{LabSecrets, SecretFiles};
pub use shaped::{ShapeError, refused_zones};

/// Environment variable that turns a lab test's SKIP into a failure (CI sets it).
pub const REQUIRE_LAB_ENV: &str = "DRLAB_REQUIRE_LAB";

/// Whether the Docker daemon answers (`docker version` within 10 s).
pub fn docker_available() -> bool {
    docker::docker_status().is_ok()
}

/// Why Docker is not usable, or `None` when it is.
pub fn docker_unreachable_reason() -> Option<String> {
    docker::docker_status().err()
}

/// The guard of every lab test. `Some(())` when Docker is reachable. When it
/// is not: with `DRLAB_REQUIRE_LAB=1` it panics (the test fails); otherwise
/// it prints exactly one line `SKIP <test>: Docker is not reachable (<why>)`
/// and returns `None`, and the test returns.
pub fn require_lab_or_skip(test: &str) -> Option<()> {
    match docker_unreachable_reason() {
        None => Some(()),
        Some(why) => skip_or_fail(test, &why),
    }
}

/// Prints the SKIP line, or panics when the lab is required.
fn skip_or_fail(test: &str, why: &str) -> Option<()> {
    if lab_required() {
        panic!("{test}: {REQUIRE_LAB_ENV}=1 but Docker is not reachable ({why})");
    }
    // the one line a skipped lab test prints (stdout, like the test harness)
    #[allow(clippy::print_stdout)]
    {
        println!("SKIP {test}: Docker is not reachable ({why})");
    }
    None
}

/// Whether `DRLAB_REQUIRE_LAB=1`.
pub fn lab_required() -> bool {
    std::env::var(REQUIRE_LAB_ENV).is_ok_and(|v| v.trim() == "1")
}
