//! The `docker` CLI for what testcontainers does not do: labelled networks
//! with a chosen subnet, finding and removing a lab's leftovers by label, and
//! the reachability check. Every call has a time limit.

use std::io::Read;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Limit of one short `docker` call.
pub const DOCKER_CALL_TIMEOUT_MS: u64 = 30_000;

/// Runs `docker ARGS`, waits at most `timeout_ms`; stdout on success, the
/// first line of stderr (or the spawn error) on failure.
pub fn docker(args: &[&str], timeout_ms: u64) -> Result<String, String> {
    let mut child = Command::new("docker")
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run docker: {e}"))?;
    // read both pipes on threads so that a chatty command cannot fill one and block
    let mut out_pipe = child.stdout.take();
    let mut err_pipe = child.stderr.take();
    let out_t = std::thread::spawn(move || {
        let mut s = String::new();
        if let Some(p) = out_pipe.as_mut() {
            let _ = p.read_to_string(&mut s);
        }
        s
    });
    let err_t = std::thread::spawn(move || {
        let mut s = String::new();
        if let Some(p) = err_pipe.as_mut() {
            let _ = p.read_to_string(&mut s);
        }
        s
    });
    let deadline = Instant::now() + Duration::from_millis(timeout_ms);
    let status = loop {
        match child.try_wait() {
            Ok(Some(s)) => break s,
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(20)),
            Ok(None) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!(
                    "docker {} timed out after {timeout_ms} ms",
                    args.first().unwrap_or(&"")
                ));
            }
            Err(e) => return Err(format!("docker: {e}")),
        }
    };
    let out = out_t.join().unwrap_or_default();
    let err = err_t.join().unwrap_or_default();
    if status.success() {
        Ok(out)
    } else {
        Err(err
            .lines()
            .find(|l| !l.trim().is_empty())
            .unwrap_or("docker failed without a message")
            .trim()
            .to_string())
    }
}

/// Whether the Docker daemon answers: its server version, or why not.
pub fn docker_status() -> Result<String, String> {
    docker(&["version", "--format", "{{.Server.Version}}"], 10_000).map(|v| v.trim().to_string())
}

/// Ids of the containers (running or not) carrying `label` (`key=value`).
pub fn containers_with(label: &str) -> Result<Vec<String>, String> {
    let out = docker(
        &[
            "ps",
            "-aq",
            "--no-trunc",
            "--filter",
            &format!("label={label}"),
        ],
        DOCKER_CALL_TIMEOUT_MS,
    )?;
    Ok(out
        .lines()
        .map(str::to_string)
        .filter(|l| !l.is_empty())
        .collect())
}

/// Names of the networks carrying `label`.
pub fn networks_with(label: &str) -> Result<Vec<String>, String> {
    let out = docker(
        &["network", "ls", "-q", "--filter", &format!("label={label}")],
        DOCKER_CALL_TIMEOUT_MS,
    )?;
    Ok(out
        .lines()
        .map(str::to_string)
        .filter(|l| !l.is_empty())
        .collect())
}

/// `docker inspect -f FORMAT ID`, trimmed.
pub fn inspect(format: &str, id: &str) -> Result<String, String> {
    docker(&["inspect", "-f", format, id], DOCKER_CALL_TIMEOUT_MS).map(|s| s.trim().to_string())
}
