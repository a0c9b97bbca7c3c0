//! The lab that hosts some scenarios: the one shape their `[lab]` tables
//! name, their domain, their mailboxes beside the lab's own, and for the
//! `wan` shape the bandwidth of their WAN link (a `tc` token bucket on the
//! router). `drlab lab up --for` and the lab battery both start labs from
//! this, so a scenario gets the same lab from either.

use std::path::Path;

use drlab_scenarios::Scenario;
use drlab_scenarios::format::LabShape;

use crate::{LabOptions, Shape};

/// Why no one lab can host the scenarios.
#[derive(Debug, thiserror::Error)]
pub enum ShapeError {
    /// A scenario has no `[lab]` table.
    #[error(
        "{0}: no [lab] table, so no CI lab is known to host it; add `[lab] shape = \"lan\"` if its hosts are DC1, EXCH1, EXCH2 (see docs/scenario-format.md)"
    )]
    NoLab(String),
    /// Two scenarios need labs of different shapes, domains or links.
    #[error("{file}: {what}; one lab has one {field}: start one lab per shape")]
    Conflict {
        /// The scenario file that disagrees with the ones before it.
        file: String,
        /// What it needs against what the others need.
        what: String,
        /// What a lab has one of.
        field: &'static str,
    },
}

/// The zones of `s` that refuse dynamic updates, lower case, sorted: with
/// the shape, what decides which lab hosts a scenario (a lab with refused
/// zones runs BIND beside Samba, see [`LabOptions::refused_zones`]).
pub fn refused_zones(s: &Scenario) -> Vec<String> {
    let mut z: Vec<String> = s
        .dns
        .zones
        .iter()
        .filter(|z| !z.dynamic_updates)
        .map(|z| z.name.trim_end_matches('.').to_ascii_lowercase())
        .collect();
    z.sort();
    z.dedup();
    z
}

impl From<LabShape> for Shape {
    fn from(s: LabShape) -> Shape {
        match s {
            LabShape::Lan => Shape::Lan,
            LabShape::Wan => Shape::Wan,
        }
    }
}

impl LabOptions {
    /// These options, set for the lab that hosts `scenarios` (each with
    /// its file, for the messages).
    pub fn shaped_for(
        mut self,
        scenarios: &[(&Path, &Scenario)],
    ) -> Result<LabOptions, ShapeError> {
        let mut shape: Option<LabShape> = None;
        let mut domain: Option<String> = None;
        let mut bandwidth: Option<f64> = None;
        let mut refused: Option<Vec<String>> = None;
        for (path, s) in scenarios {
            let file = path.display().to_string();
            let conflict = |what: String, field| ShapeError::Conflict {
                file: file.clone(),
                what,
                field,
            };
            let l = s
                .lab
                .as_ref()
                .ok_or_else(|| ShapeError::NoLab(file.clone()))?;
            match shape {
                Some(other) if other != l.shape => {
                    return Err(conflict(
                        format!(
                            "needs the {} lab, the other scenarios the {} lab",
                            l.shape.name(),
                            other.name()
                        ),
                        "shape",
                    ));
                }
                _ => shape = Some(l.shape),
            }
            if let Some(d) = &s.domain {
                match &domain {
                    Some(other) if !other.eq_ignore_ascii_case(&d.name) => {
                        return Err(conflict(
                            format!("domain {} where the other scenarios have {other}", d.name),
                            "domain",
                        ));
                    }
                    _ => domain = Some(d.name.clone()),
                }
            }
            if l.shape == LabShape::Wan
                && let Some(link) = s.links.first()
            {
                match bandwidth {
                    Some(b) if b != link.bandwidth_mbps => {
                        return Err(conflict(
                            format!(
                                "a {} Mbit/s WAN link where the other scenarios have {b} Mbit/s",
                                link.bandwidth_mbps
                            ),
                            "WAN link",
                        ));
                    }
                    _ => bandwidth = Some(link.bandwidth_mbps),
                }
            }
            // (a refused reverse zone is refused by validation: the lab's
            // reverse zones are its own subnets')
            let zones = refused_zones(s);
            match &refused {
                Some(other) if *other != zones => {
                    let say = |z: &[String]| {
                        if z.is_empty() {
                            "none".to_string()
                        } else {
                            z.join(", ")
                        }
                    };
                    return Err(conflict(
                        format!(
                            "zones refusing dynamic updates: {} where the other scenarios have {}",
                            say(&zones),
                            say(other)
                        ),
                        "DNS update policy",
                    ));
                }
                _ => refused = Some(zones),
            }
            for m in &s.mailboxes {
                if !self.mailboxes.contains(&m.name) {
                    self.mailboxes.push(m.name.clone());
                }
            }
        }
        self.shape = shape.map_or(Shape::Lan, Shape::from);
        self.wan_bandwidth_mbps = bandwidth;
        self.refused_zones = refused.unwrap_or_default();
        if let Some(d) = domain {
            self.netbios_domain = d
                .split('.')
                .next()
                .unwrap_or("CORP")
                .to_uppercase()
                .chars()
                .take(15)
                .collect();
            self.domain = d;
        }
        Ok(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn library(stem: &str) -> (std::path::PathBuf, Scenario) {
        let p = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../scenarios/library")
            .join(format!("{stem}.toml"));
        let s = drlab_scenarios::load(&p).unwrap_or_else(|e| panic!("{e}"));
        (p, s)
    }

    /// Each shape the format names starts the hosts it promises.
    #[test]
    fn each_shape_the_format_names_starts_the_hosts_it_promises() {
        for shape in LabShape::ALL {
            assert_eq!(
                shape.hosts(),
                Shape::from(shape).scenario_hosts().as_slice(),
                "{}",
                shape.name()
            );
        }
    }

    #[test]
    fn a_wan_scenario_gets_the_wan_lab_with_its_link() {
        let (p, s) = library("wan-failover-lab");
        let o = LabOptions::new("/nonexistent")
            .shaped_for(&[(&p, &s)])
            .unwrap();
        assert_eq!(o.shape, Shape::Wan);
        assert_eq!(o.wan_bandwidth_mbps, Some(s.links[0].bandwidth_mbps));
        assert_eq!(o.domain, "corp.example.com");
        assert_eq!(o.netbios_domain, "CORP");
    }

    #[test]
    fn scenarios_of_two_shapes_need_two_labs() {
        let (p1, s1) = library("lan-failover-lab");
        let (p2, s2) = library("wan-failover-lab");
        let e = LabOptions::new("/nonexistent")
            .shaped_for(&[(&p1, &s1), (&p2, &s2)])
            .unwrap_err();
        assert!(
            e.to_string()
                .contains("needs the wan lab, the other scenarios the lan lab"),
            "{e}"
        );
        let (p3, s3) = library("wan-failover");
        let e = LabOptions::new("/nonexistent")
            .shaped_for(&[(&p3, &s3)])
            .unwrap_err();
        assert!(matches!(e, ShapeError::NoLab(_)), "{e}");
    }

    /// A zone that refuses updates needs BIND beside Samba: a lab of its
    /// own, which the refused zones name; one lab has one policy per zone.
    #[test]
    fn a_refused_zone_needs_a_lab_of_its_own() {
        let (p1, s1) = library("wan-failover-dns-refused-lab");
        let o = LabOptions::new("/nonexistent")
            .shaped_for(&[(&p1, &s1)])
            .unwrap();
        assert_eq!(o.refused_zones, ["corp.example.com"]);
        assert!(o.runs_bind());
        let (p2, s2) = library("wan-failover-lab");
        let e = LabOptions::new("/nonexistent")
            .shaped_for(&[(&p2, &s2), (&p1, &s1)])
            .unwrap_err();
        assert!(
            e.to_string().contains(
                "zones refusing dynamic updates: corp.example.com where the other scenarios have none"
            ),
            "{e}"
        );
        let o = LabOptions::new("/nonexistent")
            .shaped_for(&[(&p2, &s2)])
            .unwrap();
        assert!(!o.runs_bind());
    }
}
