//! `drlab validate`: check scenario files without running them.

use std::path::PathBuf;

use anyhow::{Result, bail};

use super::out;
use crate::Outcome;

pub fn validate(paths: &[PathBuf]) -> Result<Outcome> {
    let mut bad = Vec::new();
    for p in paths {
        match drlab_scenarios::load(p) {
            Ok(s) => out(&format!(
                "{}: ok ({}, runbook {}, {} hosts, {} faults)\n",
                p.display(),
                s.scenario.name,
                s.runbook.name(),
                s.hosts.len(),
                s.faults.len()
            )),
            Err(e) => bad.push(e.to_string()),
        }
    }
    if bad.is_empty() {
        Ok(Outcome::Pass)
    } else {
        bail!("{}", bad.join("\n"))
    }
}
