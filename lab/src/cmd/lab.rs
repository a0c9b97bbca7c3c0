//! `drlab lab up` / `drlab lab down`: the CI lab of real components in
//! containers (see `lab/kit`), started with progress on stderr and left
//! running for drills until `down`.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use drlab_labkit::{Lab, LabOptions};

use super::out;
use crate::Outcome;
use crate::cli::LabAction;
use crate::progress::Progress;

pub fn lab(action: LabAction) -> Result<Outcome> {
    match action {
        LabAction::Up {
            out,
            name,
            for_scenarios,
        } => up(&out, name, &for_scenarios),
        LabAction::Down { name, out } => down(name, &out),
    }
}

/// The lab kit's progress lines (the image build's stages, then each
/// set-up step) on `p`, on stderr so that stdout stays the result: on a
/// terminal a spinner with the elapsed time and the current step
/// (warnings kept above it), elsewhere every line as the kit says it.
fn progress(p: Progress) -> impl Fn(&str) + Send + Sync + 'static {
    move |line: &str| {
        if ["WARNING", "ERROR", "FAILED", "failed"]
            .iter()
            .any(|w| line.contains(w))
        {
            p.note(line);
        } else {
            p.event(line, &short(line));
        }
    }
}

/// A progress line as the spinner shows it: a build line
/// (`[build   12s] step 2/4: ...`) without its own clock, which the
/// spinner shows.
fn short(line: &str) -> String {
    match line.strip_prefix("[build").and_then(|r| r.split_once("] ")) {
        Some((_, rest)) => format!("image build: {rest}"),
        None => line.to_string(),
    }
}

fn up(dir: &Path, name: Option<String>, scenarios: &[PathBuf]) -> Result<Outcome> {
    // the scenarios are checked before anything is started
    let mut opts = shaped_for(LabOptions::new(dir), scenarios)?;
    if let Some(why) = drlab_labkit::docker_unreachable_reason() {
        bail!("Docker is not reachable ({why}); the lab needs a running Docker daemon");
    }
    let p = Progress::new("lab up", None, "steps");
    opts = opts.with_progress(progress(p.clone()));
    opts.keep = true;
    opts.name = Some(name.unwrap_or_else(|| format!("lab-{}", std::process::id())));
    let lab = Lab::start(opts).context("starting the lab")?;
    p.finish();
    let path = lab.inventory_path().display().to_string();
    let started = lab.startup();
    let name = lab.detach();
    out(&format!(
        "lab {name} is up ({:.1} s)\ninventory: {path}\nremove it with: drlab lab down --name {name}\n",
        started.as_secs_f64()
    ));
    Ok(Outcome::Pass)
}

/// The lab options for `scenarios` (`drlab_labkit`'s `shaped_for`), each
/// loaded with its located errors first.
fn shaped_for(opts: LabOptions, scenarios: &[PathBuf]) -> Result<LabOptions> {
    let loaded = scenarios
        .iter()
        .map(|p| super::load(p).map(|s| (p.as_path(), s)))
        .collect::<Result<Vec<_>>>()?;
    let refs: Vec<_> = loaded.iter().map(|(p, s)| (*p, s)).collect();
    Ok(opts.shaped_for(&refs)?)
}

fn down(name: Option<String>, dir: &Path) -> Result<Outcome> {
    let inventory = dir.join("inventory.toml");
    let name = match name {
        Some(n) => n,
        None => {
            let inv = drlab_real::inventory::Inventory::load(&inventory).with_context(|| {
                format!(
                    "no --name given and no lab inventory at {}",
                    inventory.display()
                )
            })?;
            inv.lab.name
        }
    };
    let report =
        drlab_labkit::down_by_name(&name).with_context(|| format!("removing lab {name}"))?;
    // the lab's secrets are useless once it is gone; remove those `up` wrote here
    let same_lab =
        drlab_real::inventory::Inventory::load(&inventory).is_ok_and(|i| i.lab.name == name);
    if same_lab {
        let _ = std::fs::remove_dir_all(dir.join("secrets"));
    }
    out(&format!(
        "lab {name}: removed {} containers and {} networks\n",
        report.containers, report.networks
    ));
    Ok(Outcome::Pass)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn build_lines_lose_their_clock_on_the_spinner() {
        assert_eq!(
            short("[build   12s] step 2/4: copying rootfs/ overlay and trimming"),
            "image build: step 2/4: copying rootfs/ overlay and trimming"
        );
        assert_eq!(
            short("lab ci-1: starting DC1 (drlab-ci-1-dc1)"),
            "lab ci-1: starting DC1 (drlab-ci-1-dc1)"
        );
    }

    #[test]
    fn the_kit_s_lines_feed_the_progress_from_any_thread() {
        let say = std::sync::Arc::new(progress(Progress::hidden("lab up", None, "steps")));
        let other = say.clone();
        std::thread::spawn(move || other("[build    3s] step 1/4: debootstrap"))
            .join()
            .unwrap();
        say("lab ci-1: set-up failed, removing it");
        say("lab ci-1: every container is ready");
    }
}
