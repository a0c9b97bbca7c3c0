//! A scenario's estate as the lab backend sees it: the names the backend
//! must find in the inventory, where mailboxes and stores start, which hosts
//! start in standby, each client's resolver, and the SAN volumes with the
//! initiator name of each host.

use drlab_drivers::types::{StoreInfo, StoreRef};
use drlab_real::dns::CachePolicy;
use drlab_real::lab::Estate;
use drlab_real::lab::estate::{Client, Mailbox, Volume, ZonePolicy};
use drlab_scenarios::Scenario;
use drlab_scenarios::format::ExchangeRole;

/// The estate of `s` at the start of a drill, for
/// [`drlab_real::lab::LabBackend::connect`] and the plan's renderer.
pub fn of(s: &Scenario) -> Estate {
    let mut e = Estate {
        domain: s
            .domain
            .as_ref()
            .map(|d| d.name.clone())
            .unwrap_or_default(),
        hosts: s.hosts.iter().map(|h| h.name.clone()).collect(),
        exchange_services: s
            .exchange
            .iter()
            .flat_map(|x| x.services.iter().map(|svc| svc.name.clone()))
            .collect(),
        store_service: s
            .exchange
            .as_ref()
            .map_or_else(|| "MSExchangeIS".to_string(), |x| x.store_service.clone()),
        clients: s
            .clients
            .iter()
            .map(|c| Client {
                name: c.name.clone(),
                dns_server: c.dns_server.clone(),
                cache: CachePolicy::Rules(drlab_scenarios::dns::rules_of(c)),
            })
            .collect(),
        ..Estate::default()
    };
    for mb in &s.mailboxes {
        e.mailboxes.push(Mailbox {
            name: mb.name.clone(),
            server: mb.server.clone(),
            store: StoreRef::new(mb.group.as_str(), mb.store.as_str()),
        });
    }
    for h in &s.hosts {
        let Some(x) = &h.exchange else { continue };
        if x.state == ExchangeRole::Standby {
            e.standby.insert(h.name.clone());
        }
        let stores = drlab_scenarios::exchange::groups_of(s, h)
            .iter()
            .flat_map(|g| {
                g.stores.iter().map(move |st| StoreInfo {
                    id: StoreRef::new(g.name.as_str(), st.name.as_str()),
                    file: st.file.as_str().into(),
                    log_prefix: g.prefix.as_str().into(),
                    public: st.public,
                    mounted: false,
                    overwrite_on_restore: false,
                })
            })
            .collect();
        e.stores.insert(h.name.clone(), stores);
    }
    for r in &s.replication {
        e.replica_targets.insert(r.target.clone());
        e.replication
            .push((r.source.clone(), r.target.clone(), r.mirrored_at_start));
    }
    // A persona's initiator name goes with its host (the simulator's rule:
    // the last persona of a host wins; other hosts get the default).
    for p in &s.personas {
        e.initiators.insert(p.host.clone(), p.initiator.clone());
    }
    e.addresses = s.hosts.iter().map(|h| (h.name.clone(), h.ip)).collect();
    for server in s.dns.zones.iter().flat_map(|z| &z.servers) {
        let records = drlab_scenarios::dns::records_on(s, server)
            .filter_map(drlab_scenarios::dns::to_record)
            .collect();
        e.dns_records.insert(server.clone(), records);
    }
    for z in &s.dns.zones {
        for server in &z.servers {
            e.dns_zones
                .entry(server.clone())
                .or_default()
                .push(ZonePolicy {
                    name: z.name.clone(),
                    dynamic_updates: z.dynamic_updates,
                });
        }
    }
    e.volumes = s
        .volumes
        .iter()
        .map(|v| Volume {
            name: v.name.clone(),
            initiators: v.initiators.clone(),
        })
        .collect();
    e
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    /// The lab's client resolvers cache by the same rules as the
    /// simulator's: a profile's, or the plain policy's.
    #[test]
    fn each_client_resolver_gets_the_scenarios_cache_rules() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scenarios/library");
        let text = std::fs::read_to_string(dir.join("wan-failover-lab.toml")).unwrap();
        let text = text.replacen("resolver = \"honour-ttl\"", "profile = \"java\"", 1);
        let s =
            drlab_scenarios::parse(Path::new("w.toml"), &text).unwrap_or_else(|e| panic!("{e}"));
        let e = super::of(&s);
        assert_eq!(e.clients.len(), s.clients.len());
        for (c, lab) in s.clients.iter().zip(&e.clients) {
            assert_eq!(
                lab.cache.rules(),
                drlab_scenarios::dns::rules_of(c),
                "{}",
                c.name
            );
        }
        let java = drlab_scenarios::dns::profile(drlab_scenarios::format::ClientProfile::Java);
        assert_eq!(e.clients[0].cache.rules(), java.rules);
        assert_eq!(
            e.clients[0].cache.lifetime(300),
            Some(std::time::Duration::from_secs(30))
        );
    }

    /// Both backends log a host in to the SAN under the same initiator
    /// name: a persona's, else the default, on every library scenario
    /// with volumes.
    #[test]
    fn the_lab_and_the_simulator_give_hosts_the_same_initiator_names() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scenarios/library");
        let mut checked = 0;
        for f in [
            "dag-aim-reprovisioning.toml",
            "dag-manual-reprovisioning.toml",
        ] {
            let s = drlab_scenarios::load(&dir.join(f)).unwrap_or_else(|e| panic!("{e}"));
            let e = super::of(&s);
            let w = drlab_sim::world::World::build(&s, 1);
            for h in &w.hosts {
                assert_eq!(e.initiator(&h.name), h.initiator, "{f}: {}", h.name);
                checked += 1;
            }
            let names: Vec<&str> = e.volumes.iter().map(|v| v.name.as_str()).collect();
            let want: Vec<&str> = s.volumes.iter().map(|v| v.name.as_str()).collect();
            assert_eq!(names, want, "{f}");
            for v in &e.volumes {
                drlab_real::san::Target::of(names.iter().copied(), &v.name)
                    .unwrap_or_else(|e| panic!("{f}: {e}"));
                for i in &v.initiators {
                    drlab_real::san::check_initiator(i).unwrap_or_else(|e| panic!("{f}: {e}"));
                }
            }
        }
        assert!(checked >= 4);
    }
}
