//! Helpers of the CLI tests: run the built `drlab` from the workspace root
//! and read what it printed.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The library's LAN failover, relative to the workspace root.
pub const LAN: &str = "scenarios/library/lan-failover.toml";

/// Runs `drlab ARGS` in the workspace root.
pub fn drlab(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_drlab"))
        .args(args)
        .current_dir(root())
        .output()
        .expect("drlab runs")
}

/// The workspace root.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// What the command printed on standard error.
pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// What the command printed on standard output.
#[allow(dead_code, reason = "not every test binary reads stdout")]
pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}
