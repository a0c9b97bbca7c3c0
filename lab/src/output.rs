//! Writing results atomically: a run's artefacts are written into a
//! temporary directory, fsynced, and swapped into place whole, so a report
//! is either complete or absent, never half written, and a directory never
//! holds the report of one run beside the trace of another.
//!
//! A single file (`write_file`) is written beside itself and renamed.
//!
//! Temporaries are named `.NAME.set-PID` and `.NAME.old-PID`. A process
//! killed mid-write leaves one behind; the next write beside it removes
//! those of processes that no longer run.

use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, ensure};

/// The files `drlab run --out DIR` writes; a directory holding anything
/// else is not replaced.
pub const RUN_ARTEFACTS: &[&str] = &[
    "events.jsonl",
    "report.md",
    "report.html",
    "junit.xml",
    "report.json",
];

/// Replaces directory `dir` by one holding exactly `files` (name, bytes),
/// all fsynced before the swap. `dir` may be absent, or hold only names of
/// `allowed` (earlier artefacts of the same command): anything else there
/// is the user's, and the write is refused rather than deleting it. Readers
/// see the old set, then (for an instant) no directory, then the new set.
pub fn write_set(dir: &Path, files: &[(&str, &[u8])], allowed: &[&str]) -> Result<()> {
    // `.` or `..` name no directory to swap: use the one they stand for.
    let canonical;
    let dir = if dir.exists() {
        canonical =
            fs::canonicalize(dir).with_context(|| format!("cannot resolve {}", dir.display()))?;
        canonical.as_path()
    } else {
        dir
    };
    // The set replaces the directory: never the one a shell stands in.
    if let Ok(cwd) = std::env::current_dir().and_then(fs::canonicalize) {
        ensure!(
            !cwd.starts_with(dir),
            "{} is (or holds) the current directory, which the results would replace: \
             name a directory of its own, e.g. --out report",
            dir.display()
        );
    }
    let (parent, name) = parent_and_name(dir)?;
    fs::create_dir_all(&parent).with_context(|| format!("cannot create {}", parent.display()))?;
    if dir.exists() {
        for entry in fs::read_dir(dir).with_context(|| format!("cannot list {}", dir.display()))? {
            let entry = entry.with_context(|| format!("cannot list {}", dir.display()))?;
            let n = entry.file_name();
            let n = n.to_string_lossy();
            ensure!(
                allowed.contains(&n.as_ref()),
                "{} holds {n}, which drlab did not write: choose an empty or new --out directory",
                dir.display()
            );
        }
    }
    remove_stale(&parent, &format!(".{name}.set-"));
    remove_stale(&parent, &format!(".{name}.old-"));
    let pid = std::process::id();
    let tmp = parent.join(format!(".{name}.set-{pid}"));
    let old = parent.join(format!(".{name}.old-{pid}"));
    let result = (|| -> Result<()> {
        fs::create_dir(&tmp).with_context(|| format!("cannot create {}", tmp.display()))?;
        for (file, bytes) in files {
            let p = tmp.join(file);
            let mut f =
                File::create(&p).with_context(|| format!("cannot create {}", p.display()))?;
            f.write_all(bytes)
                .and_then(|()| f.sync_all())
                .with_context(|| format!("cannot write {}", p.display()))?;
        }
        File::open(&tmp)
            .and_then(|d| d.sync_all())
            .with_context(|| format!("cannot sync {}", tmp.display()))?;
        if dir.exists() {
            fs::rename(dir, &old)
                .with_context(|| format!("cannot move {} aside", dir.display()))?;
        }
        fs::rename(&tmp, dir).with_context(|| format!("cannot rename into {}", dir.display()))?;
        if old.exists() {
            fs::remove_dir_all(&old).with_context(|| format!("cannot remove {}", old.display()))?;
        }
        Ok(())
    })();
    if result.is_err() {
        let _ = fs::remove_dir_all(&tmp);
    }
    result
}

/// Replaces file `path` by one holding `bytes`, written beside it under a
/// temporary name, fsynced and renamed into place: readers see the old
/// file or the new one, never a part.
pub fn write_file(path: &Path, bytes: &[u8]) -> Result<()> {
    let (parent, name) = parent_and_name(path)?;
    remove_stale(&parent, &format!(".{name}.set-"));
    let tmp = parent.join(format!(".{name}.set-{}", std::process::id()));
    let result = (|| -> Result<()> {
        let mut f =
            File::create(&tmp).with_context(|| format!("cannot create {}", tmp.display()))?;
        f.write_all(bytes)
            .and_then(|()| f.sync_all())
            .with_context(|| format!("cannot write {}", tmp.display()))?;
        fs::rename(&tmp, path).with_context(|| format!("cannot rename into {}", path.display()))
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

fn parent_and_name(path: &Path) -> Result<(PathBuf, String)> {
    let parent = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
        .to_path_buf();
    let name = path
        .file_name()
        .with_context(|| format!("{} has no file name", path.display()))?
        .to_string_lossy()
        .into_owned();
    Ok((parent, name))
}

/// Removes the temporaries `PREFIXpid` in `dir` whose process is gone.
/// Best effort: a temporary that cannot be removed is left for the next
/// write, and it never makes a write fail.
fn remove_stale(dir: &Path, prefix: &str) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = name
            .to_str()
            .and_then(|n| n.strip_prefix(prefix))
            .and_then(|p| p.parse::<u32>().ok())
        else {
            continue;
        };
        if pid != std::process::id() && !Path::new(&format!("/proc/{pid}")).exists() {
            let p = entry.path();
            let _ = if p.is_dir() {
                fs::remove_dir_all(&p)
            } else {
                fs::remove_file(&p)
            };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_set_replaces_the_whole_directory_and_leaves_no_temporary() {
        let d = tempfile::tempdir().unwrap();
        let out = d.path().join("out");
        let names = ["a", "b"];
        write_set(&out, &[("a", b"1"), ("b", b"1")], &names).unwrap();
        // Stale temporaries of killed processes (pids above pid_max).
        fs::create_dir(d.path().join(".out.set-4999999")).unwrap();
        fs::create_dir(d.path().join(".out.old-4999998")).unwrap();
        write_set(&out, &[("a", b"2")], &names).unwrap();
        assert_eq!(fs::read(out.join("a")).unwrap(), b"2");
        assert!(!out.join("b").exists(), "the old set's b stays behind");
        let left: Vec<_> = fs::read_dir(d.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(left, ["out"], "{left:?}");
    }

    #[test]
    fn a_set_never_deletes_files_it_did_not_write() {
        let d = tempfile::tempdir().unwrap();
        fs::write(d.path().join("notes.txt"), b"mine").unwrap();
        let e = write_set(d.path(), &[("a", b"1")], &["a"]).unwrap_err();
        assert!(
            format!("{e:#}").contains("notes.txt, which drlab did not write"),
            "{e:#}"
        );
        assert_eq!(fs::read(d.path().join("notes.txt")).unwrap(), b"mine");
    }

    #[test]
    fn a_file_is_replaced_whole_and_leaves_no_temporary() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("f.toml");
        write_file(&p, b"old").unwrap();
        write_file(&p, b"new").unwrap();
        assert_eq!(fs::read(&p).unwrap(), b"new");
        let left: Vec<_> = fs::read_dir(d.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(left, ["f.toml"], "{left:?}");
        assert!(write_file(&d.path().join("no/such/dir/f"), b"x").is_err());
    }

    #[test]
    fn an_unwritable_place_is_an_error_not_a_panic() {
        let d = tempfile::tempdir().unwrap();
        fs::write(d.path().join("file"), b"x").unwrap();
        let err = write_set(&d.path().join("file/out"), &[("a", b"1")], &["a"]).unwrap_err();
        assert!(format!("{err:#}").contains("cannot create"), "{err:#}");
    }
}
