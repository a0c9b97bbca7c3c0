//! `drlab lab up` / `drlab lab down`: the CI lab of real components in
//! containers (see `lab/kit`), started with progress on stderr and left
//! running for drills until `down`.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use drlab_labkit::{Lab, LabOptions};

use super::out;
use crate::Outcome;
use crate::cli::LabAction;

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

/// Progress goes to stderr, so that stdout stays the result.
fn progress(line: &str) {
    let mut e = std::io::stderr().lock();
    let _ = writeln!(e, "{line}");
}

fn up(dir: &Path, name: Option<String>, scenarios: &[PathBuf]) -> Result<Outcome> {
    // the scenarios are checked before anything is started
    let mut opts = shaped_for(LabOptions::new(dir), scenarios)?;
    if let Some(why) = drlab_labkit::docker_unreachable_reason() {
        bail!("Docker is not reachable ({why}); the lab needs a running Docker daemon");
    }
    opts = opts.with_progress(progress);
    opts.keep = true;
    opts.name = Some(name.unwrap_or_else(|| format!("lab-{}", std::process::id())));
    let lab = Lab::start(opts).context("starting the lab")?;
    let path = lab.inventory_path().display().to_string();
    let started = lab.startup();
    let name = lab.detach();
    out(&format!(
        "lab {name} is up ({:.1} s)\ninventory: {path}\nremove it with: drlab lab down --name {name}\n",
        started.as_secs_f64()
    ));
    Ok(Outcome::Pass)
}

/// The lab options for `scenarios`: the one shape their `[lab]` tables
/// name (validation made sure their hosts are the shape's), their domain,
/// and their mailboxes beside the lab's own.
fn shaped_for(mut opts: LabOptions, scenarios: &[PathBuf]) -> Result<LabOptions> {
    let mut shape = None;
    let mut domain: Option<String> = None;
    for path in scenarios {
        let s = super::load(path)?;
        let Some(l) = &s.lab else {
            bail!(
                "{}: no [lab] table, so no CI lab is known to host it; add `[lab] shape = \"lan\"` if its hosts are DC1, EXCH1, EXCH2 (see docs/scenario-format.md)",
                path.display()
            );
        };
        match shape {
            Some(other) if other != l.shape => bail!(
                "{}: needs the {} lab, the other scenarios the {} lab; start one lab per shape",
                path.display(),
                l.shape.name(),
                drlab_scenarios::format::LabShape::name(other)
            ),
            _ => shape = Some(l.shape),
        }
        if let Some(d) = &s.domain {
            match &domain {
                Some(other) if !other.eq_ignore_ascii_case(&d.name) => bail!(
                    "{}: domain {} where the other scenarios have {other}; one lab has one domain",
                    path.display(),
                    d.name
                ),
                _ => domain = Some(d.name.clone()),
            }
        }
        for m in &s.mailboxes {
            if !opts.mailboxes.contains(&m.name) {
                opts.mailboxes.push(m.name.clone());
            }
        }
    }
    // the kit's lab for the shape the scenarios name
    opts.shape = shape.map_or(drlab_labkit::Shape::Lan, kit_shape);
    if let Some(d) = domain {
        opts.netbios_domain = d
            .split('.')
            .next()
            .unwrap_or("CORP")
            .to_uppercase()
            .chars()
            .take(15)
            .collect();
        opts.domain = d;
    }
    Ok(opts)
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

/// The kit's lab for a shape the format names.
fn kit_shape(shape: drlab_scenarios::format::LabShape) -> drlab_labkit::Shape {
    match shape {
        drlab_scenarios::format::LabShape::Lan => drlab_labkit::Shape::Lan,
    }
}

#[cfg(test)]
mod tests {
    use drlab_scenarios::format::LabShape;

    /// The format validates a scenario's hosts against `LabShape::hosts`;
    /// the kit starts its own list. One may not drift from the other.
    #[test]
    fn each_shape_the_format_names_starts_the_hosts_it_promises() {
        for shape in LabShape::ALL {
            assert_eq!(
                shape.hosts(),
                super::kit_shape(shape).scenario_hosts().as_slice(),
                "{}",
                shape.name()
            );
        }
    }
}
