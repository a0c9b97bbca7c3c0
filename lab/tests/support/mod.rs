//! Helpers of the CLI tests: run the built `drlab` from the workspace root
//! and read what it printed.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The library's LAN failover, relative to the workspace root.
#[allow(dead_code, reason = "not every test binary runs it")]
pub const LAN: &str = "scenarios/library/lan-failover.toml";

/// The sweep whose page `sweep_html.rs` snapshots and `html_browser.rs`
/// opens: three WAN links, 60 seeds (enough to bound a p95), an RPO
/// requirement that the 10 Mbit/s link meets.
#[allow(dead_code, reason = "not every test binary draws the sweep page")]
pub const SWEEP_HTML: &[&str] = &[
    "sweep",
    "scenarios/library/wan-failover-poisson.toml",
    "--seeds",
    "60",
    "--vary",
    "links[0].bandwidth_mbps=2,4,10",
    "--require",
    "rpo_p95<=1",
    "--format",
    "html",
];

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
