//! Runs `lab/images/build.sh`: builds the lab image only when its recipe
//! changed, forwards the build's progress (stderr) line by line, and takes
//! the image reference from the last line of stdout.

use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::lab::LabError;

/// A cold build takes 1-2 minutes on the CI machine; this bounds a stuck one.
pub const BUILD_TIMEOUT_MS: u64 = 20 * 60 * 1000;

/// Builds (or finds) the image; returns its reference, e.g. `drlab-lab:0123456789ab`.
pub fn build_image(images_dir: &Path, say: &dyn Fn(&str)) -> Result<String, LabError> {
    let script = images_dir.join("build.sh");
    let mut child = Command::new("bash")
        .arg(&script)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| LabError::Build(format!("cannot run {}: {e}", script.display())))?;
    let mut stdout = child.stdout.take();
    let out_t = std::thread::spawn(move || {
        let mut s = String::new();
        if let Some(p) = stdout.as_mut() {
            let _ = p.read_to_string(&mut s);
        }
        s
    });
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    let stderr = child.stderr.take();
    let err_t = std::thread::spawn(move || {
        if let Some(p) = stderr {
            for line in BufReader::new(p).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        }
    });
    let deadline = Instant::now() + Duration::from_millis(BUILD_TIMEOUT_MS);
    let mut tail: Vec<String> = Vec::new();
    let status = loop {
        while let Ok(line) = rx.try_recv() {
            say(&line);
            tail.push(line);
            if tail.len() > 30 {
                tail.remove(0);
            }
        }
        match child.try_wait() {
            Ok(Some(s)) => break s,
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(50)),
            Ok(None) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(LabError::Build(format!(
                    "{} did not finish within {} s",
                    script.display(),
                    BUILD_TIMEOUT_MS / 1000
                )));
            }
            Err(e) => return Err(LabError::Build(e.to_string())),
        }
    };
    let _ = err_t.join();
    while let Ok(line) = rx.try_recv() {
        say(&line);
        tail.push(line);
    }
    let out = out_t.join().unwrap_or_default();
    if !status.success() {
        let last: Vec<&str> = tail.iter().rev().take(10).map(String::as_str).collect();
        let last: Vec<&str> = last.into_iter().rev().collect();
        return Err(LabError::Build(format!("{status}:\n{}", last.join("\n"))));
    }
    out.lines()
        .rev()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .map(str::to_string)
        .ok_or_else(|| LabError::Build("build.sh printed no image reference".into()))
}
