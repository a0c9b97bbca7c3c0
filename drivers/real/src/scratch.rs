//! Test support: a scratch directory that removes itself, and the output
//! of a command that must succeed, for the unit tests that run the lab's
//! shell and awk scripts on real files.

use std::path::{Path, PathBuf};
use std::process::Command;

/// A fresh directory under the system's temporary directory, removed on
/// drop.
pub(crate) struct Scratch(PathBuf);

impl Scratch {
    /// `name` tells the tests apart, the process id concurrent runs.
    pub(crate) fn new(name: &str) -> Scratch {
        let dir = std::env::temp_dir().join(format!("drlab-{name}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        Scratch(dir)
    }

    pub(crate) fn path(&self) -> &Path {
        &self.0
    }

    /// Writes `text` to `rel`, creating its directory.
    pub(crate) fn write(&self, rel: &str, text: &str) -> PathBuf {
        let f = self.0.join(rel);
        std::fs::create_dir_all(f.parent().unwrap()).unwrap();
        std::fs::write(&f, text).unwrap();
        f
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The standard output of `cmd`, which must exit 0.
pub(crate) fn stdout_of(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap();
    assert!(out.status.success(), "{cmd:?}: {out:?}");
    String::from_utf8(out.stdout).unwrap()
}

/// [`stdout_of`] a `sh -c script`.
pub(crate) fn sh(script: &str) -> String {
    stdout_of(Command::new("sh").arg("-c").arg(script))
}
