//! The state-changing capabilities, described once.
//!
//! [`capabilities!`] is the table: for every capability trait with
//! state-changing methods, one row per *simple* method — its trait method
//! signature, the journal [`Action`](crate::journal::Action) variant it
//! records (typed fields, each built from the arguments), the call that
//! performs a recorded action again (the same method on the backend, and the
//! same-named pure builder of the lab's `Commands`), its undo and its text —
//! followed by the trait's other methods (queries, and state-changing
//! methods with bookkeeping of their own), written out in full.
//!
//! [`caps_gen!`] turns the table into, one mode per use site:
//! - `@enum`: the [`Action`](crate::journal::Action) enum (simple variants
//!   from the rows, the others given at the use site);
//! - `@inverse`: [`Action::inverse`](crate::journal::Action::inverse);
//! - `@display`: `Display for Action`;
//! - `@perform`: [`perform`](crate::recorded::perform);
//! - `@ops`: [`ops_of`](crate::render::ops_of) (the lab's commands);
//! - `@wrap`: the [`Recorded`](crate::recorded::Recorded) impls of the
//!   traits in the table.
//!
//! A row reads
//!
//! ```text
//! /// Doc of the variant.
//! fn method(arg: Type, ..) -> Ret => Variant {
//!     /// Doc of the field.
//!     field: FieldType = <expression of the arguments>,
//!     ..
//! } perform(<arguments of the call, from the fields>)
//!   undo OtherVariant { <fields, from this variant's fields> }   (optional)
//!   learn(k => { <update the wrapper's Known k after success> })  (optional)
//!   show(<format string and arguments, from the fields>);
//! ```

/// The table of state-changing capabilities; expands to
/// `caps_gen! { { <mode and its arguments> } <the table> }`.
macro_rules! capabilities {
    ($($ctx:tt)*) => {
        $crate::capabilities::caps_gen! { { $($ctx)* }
        Hosts {
            actions {
                /// Reboot (no undo).
                fn reboot(host: &str) -> () => Reboot {
                    /// Host.
                    host: String = host.into(),
                } perform(host)
                  show("reboot {host}");

                /// Join a domain.
                fn join_domain(host: &str, domain: &str) -> () => JoinDomain {
                    /// Host.
                    host: String = host.into(),
                    /// Domain.
                    domain: String = domain.into(),
                } perform(host, domain)
                  undo LeaveDomain { host, domain }
                  learn(k => { k.domains.insert(host.into(), domain.into()); })
                  show("join {host} to domain {domain}");

                /// Bring `from`'s identity items up on `to`.
                fn take_over_identity(from: &str, to: &str, items: IdentityItems) -> () => TakeOverIdentity {
                    /// Whose identity.
                    from: String = from.into(),
                    /// Who takes it.
                    to: String = to.into(),
                    /// IP addresses.
                    ip: bool = items.ip_addresses,
                    /// Server name.
                    name: bool = items.server_name,
                } perform(from, to, IdentityItems { ip_addresses: *ip, server_name: *name })
                  undo ReleaseIdentity { from, to, ip, name }
                  show("bring up {} of {from} on {to}", items(*ip, *name));

                /// Give identity items back.
                fn release_identity(from: &str, to: &str, items: IdentityItems) -> () => ReleaseIdentity {
                    /// Whose identity.
                    from: String = from.into(),
                    /// Who held it.
                    to: String = to.into(),
                    /// IP addresses.
                    ip: bool = items.ip_addresses,
                    /// Server name.
                    name: bool = items.server_name,
                } perform(from, to, IdentityItems { ip_addresses: *ip, server_name: *name })
                  undo TakeOverIdentity { from, to, ip, name }
                  show("give {} of {from} back from {to}", items(*ip, *name));

                /// Boot a host on a physical server (no undo: the old server may be gone).
                fn boot_on(host: &str, server: &str) -> () => BootOn {
                    /// Host.
                    host: String = host.into(),
                    /// Server.
                    server: String = server.into(),
                } perform(host, server)
                  show("boot {host} on server {server}");
            }
            others {
                async fn ping(&self, from: &str, to: &str, limit: Duration) -> OpResult<Duration> {
                    self.inner.ping(from, to, limit).await
                }

                async fn rename(&self, host: &str, new_name: &str) -> OpResult<()> {
                    let previous = self.known.borrow().names.get(host).cloned();
                    let a = Action::Rename {
                        host: host.into(),
                        name: new_name.into(),
                        previous,
                    };
                    let undo = a.inverse();
                    self.record(
                        a,
                        undo,
                        || self.inner.rename(host, new_name),
                        |k| {
                            k.names.insert(host.into(), new_name.into());
                        },
                    )
                    .await
                }

                async fn leave_domain(&self, host: &str) -> OpResult<()> {
                    let domain = self.known.borrow().domains.get(host).cloned();
                    // Re-joining needs the domain's name: unknown means no undo.
                    let a = Action::LeaveDomain {
                        host: host.into(),
                        domain: domain.clone().unwrap_or_default(),
                    };
                    let undo = domain.and_then(|_| a.inverse());
                    self.record(
                        a,
                        undo,
                        || self.inner.leave_domain(host),
                        |k| {
                            k.domains.remove(host);
                        },
                    )
                    .await
                }
            }
        }
        Services {
            actions {
                /// Start a service.
                fn start_service(host: &str, service: &str) -> () => StartService {
                    /// Host.
                    host: String = host.into(),
                    /// Service.
                    service: String = service.into(),
                } perform(host, service)
                  undo StopService { host, service }
                  show("start {service} on {host}");

                /// Stop a service.
                fn stop_service(host: &str, service: &str) -> () => StopService {
                    /// Host.
                    host: String = host.into(),
                    /// Service.
                    service: String = service.into(),
                } perform(host, service)
                  undo StartService { host, service }
                  show("stop {service} on {host}");
            }
            others {
                async fn service_status(&self, host: &str, service: &str) -> OpResult<ServiceState> {
                    self.inner.service_status(host, service).await
                }

                async fn set_startup_type(
                    &self,
                    host: &str,
                    service: &str,
                    startup: StartupType,
                ) -> OpResult<()> {
                    let key = (host.to_string(), service.to_string());
                    let previous = self.known.borrow().startup.get(&key).copied();
                    let a = Action::SetStartup {
                        host: host.into(),
                        service: service.into(),
                        startup,
                        previous,
                    };
                    let undo = a.inverse();
                    self.record(
                        a,
                        undo,
                        || self.inner.set_startup_type(host, service, startup),
                        |k| {
                            k.startup.insert(key, startup);
                        },
                    )
                    .await
                }
            }
        }
        MailStores {
            actions {
                /// Mount a store.
                fn mount_store(host: &str, store: &StoreRef) -> () => MountStore {
                    /// Host.
                    host: String = host.into(),
                    /// Storage group.
                    group: String = store.group.to_string(),
                    /// Store.
                    store: String = store.store.to_string(),
                } perform(host, &StoreRef::new(group.as_str(), store.as_str()))
                  undo DismountStore { host, group, store }
                  show("mount {group}/{store} on {host}");

                /// Dismount a store.
                fn dismount_store(host: &str, store: &StoreRef) -> () => DismountStore {
                    /// Host.
                    host: String = host.into(),
                    /// Storage group.
                    group: String = store.group.to_string(),
                    /// Store.
                    store: String = store.store.to_string(),
                } perform(host, &StoreRef::new(group.as_str(), store.as_str()))
                  undo MountStore { host, group, store }
                  show("dismount {group}/{store} on {host}");

                /// Set or clear the overwrite-on-restore flag.
                fn set_overwrite_on_restore(host: &str, store: &StoreRef, on: bool) -> () => SetOverwrite {
                    /// Host.
                    host: String = host.into(),
                    /// Storage group.
                    group: String = store.group.to_string(),
                    /// Store.
                    store: String = store.store.to_string(),
                    /// New value.
                    on: bool = on,
                } perform(host, &StoreRef::new(group.as_str(), store.as_str()), *on)
                  undo SetOverwrite { host, group, store, on: !on }
                  show(
                      "turn overwrite-on-restore {} for {group}/{store} on {host}",
                      if *on { "on" } else { "off" }
                  );
            }
            others {
                async fn list_stores(&self, host: &str) -> OpResult<Vec<StoreInfo>> {
                    self.inner.list_stores(host).await
                }

                async fn store_mounted(&self, host: &str, store: &StoreRef) -> OpResult<bool> {
                    self.inner.store_mounted(host, store).await
                }

                async fn soft_recovery(&self, host: &str, store: &StoreRef) -> OpResult<()> {
                    let a = recovery(host, store, false);
                    self.act(a, || self.inner.soft_recovery(host, store)).await
                }

                async fn hard_recovery(&self, host: &str, store: &StoreRef) -> OpResult<()> {
                    let a = recovery(host, store, true);
                    self.act(a, || self.inner.hard_recovery(host, store)).await
                }
            }
        }
        Directory {
            actions {
                /// Create a computer account.
                fn create_computer(dc: &str, name: &str) -> () => CreateComputer {
                    /// Domain controller.
                    dc: String = dc.into(),
                    /// Account name.
                    name: String = name.into(),
                } perform(dc, name)
                  undo RemoveComputer { dc, name }
                  show("create computer account {name} (on {dc})");

                /// Remove a computer account.
                fn remove_computer(dc: &str, name: &str) -> () => RemoveComputer {
                    /// Domain controller.
                    dc: String = dc.into(),
                    /// Account name.
                    name: String = name.into(),
                } perform(dc, name)
                  undo CreateComputer { dc, name }
                  show("remove computer account {name} (on {dc})");

                /// Rename a computer account.
                fn rename_computer(dc: &str, old: &str, new: &str) -> () => RenameComputer {
                    /// Domain controller.
                    dc: String = dc.into(),
                    /// Old name.
                    old: String = old.into(),
                    /// New name.
                    new: String = new.into(),
                } perform(dc, old, new)
                  undo RenameComputer { dc, old: new, new: old }
                  show("rename computer account {old} to {new} (on {dc})");

                /// Force directory replication (no undo: it only hastens what would happen).
                fn force_replication(from: &str, to: &str) -> () => ForceReplication {
                    /// From DC.
                    from: String = from.into(),
                    /// To DC.
                    to: String = to.into(),
                } perform(from, to)
                  show("force directory replication {from} -> {to}");
            }
            others {
                async fn computer_exists(&self, dc: &str, name: &str) -> OpResult<bool> {
                    self.inner.computer_exists(dc, name).await
                }

                async fn list_mailboxes(&self, dc: &str, server: &str) -> OpResult<Vec<MailboxInfo>> {
                    self.inner.list_mailboxes(dc, server).await
                }

                async fn set_mailbox_home(
                    &self,
                    dc: &str,
                    mailbox: &str,
                    server: &str,
                    store: &StoreRef,
                ) -> OpResult<()> {
                    let previous = self.known.borrow().mailbox_homes.get(mailbox).cloned();
                    let (group, s) = (store.group.to_string(), store.store.to_string());
                    let home = [server.to_string(), group.clone(), s.clone()];
                    let a = Action::SetMailboxHome {
                        dc: dc.into(),
                        mailbox: mailbox.into(),
                        server: server.into(),
                        group,
                        store: s,
                        previous,
                    };
                    let undo = a.inverse();
                    self.record(
                        a,
                        undo,
                        || self.inner.set_mailbox_home(dc, mailbox, server, store),
                        |k| {
                            k.mailbox_homes.insert(mailbox.into(), home);
                        },
                    )
                    .await
                }
            }
        }
        Dns {
            actions {
                /// Add a DNS record.
                fn add_record(server: &str, record: &DnsRecord) -> () => DnsAdd {
                    /// Server.
                    server: String = server.into(),
                    /// Owner name.
                    name: String = record.name.to_string(),
                    /// Type (its mnemonic in the journal, e.g. `A`).
                    rtype: RecordType = record.rtype,
                    /// Data.
                    data: String = record.data.to_string(),
                    /// TTL.
                    ttl_s: u32 = record.ttl_s,
                } perform(server, &DnsRecord {
                      name: name.as_str().into(),
                      rtype: *rtype,
                      data: data.as_str().into(),
                      ttl_s: *ttl_s,
                  })
                  undo DnsDelete { server, name, rtype, data, ttl_s }
                  show("add DNS {name} {ttl_s} {} {data} on {server}", rtype.as_str());

                /// Delete a DNS record.
                fn delete_record(server: &str, record: &DnsRecord) -> () => DnsDelete {
                    /// Server.
                    server: String = server.into(),
                    /// Owner name.
                    name: String = record.name.to_string(),
                    /// Type (its mnemonic in the journal, e.g. `A`).
                    rtype: RecordType = record.rtype,
                    /// Data.
                    data: String = record.data.to_string(),
                    /// TTL it had (to re-add on undo).
                    ttl_s: u32 = record.ttl_s,
                } perform(server, &DnsRecord {
                      name: name.as_str().into(),
                      rtype: *rtype,
                      data: data.as_str().into(),
                      ttl_s: *ttl_s,
                  })
                  undo DnsAdd { server, name, rtype, data, ttl_s }
                  show("delete DNS {name} {} {data} on {server}", rtype.as_str());

                /// Flush a client's resolver cache (no undo: the cache refills itself).
                fn flush_cache(client: &str) -> () => FlushCache {
                    /// Client.
                    client: String = client.into(),
                } perform(client)
                  show("flush the DNS cache of {client}");
            }
            others {
                async fn query_server(
                    &self,
                    server: &str,
                    name: &str,
                    rtype: RecordType,
                ) -> OpResult<Vec<DnsRecord>> {
                    self.inner.query_server(server, name, rtype).await
                }

                async fn resolve(
                    &self,
                    client: &str,
                    name: &str,
                    rtype: RecordType,
                ) -> OpResult<Vec<DnsRecord>> {
                    self.inner.resolve(client, name, rtype).await
                }
            }
        }
        Replication {
            actions {
                /// Connect replication with a mirror.
                fn connect(source: &str, target: &str, mirror: MirrorMode) -> () => ConnectReplication {
                    /// Source.
                    source: String = source.into(),
                    /// Target.
                    target: String = target.into(),
                    /// The mirror (`full`, `difference` or `none` in the journal).
                    mirror: MirrorMode = mirror,
                } perform(source, target, *mirror)
                  undo DisconnectReplication { source, target }
                  show(
                      "connect replication {source} -> {target} (mirror: {})",
                      journal_name(mirror)
                  );

                /// Pause replication.
                fn pause(source: &str, target: &str) -> () => PauseReplication {
                    /// Source.
                    source: String = source.into(),
                    /// Target.
                    target: String = target.into(),
                } perform(source, target)
                  undo ResumeReplication { source, target }
                  show("pause replication {source} -> {target}");

                /// Resume replication.
                fn resume(source: &str, target: &str) -> () => ResumeReplication {
                    /// Source.
                    source: String = source.into(),
                    /// Target.
                    target: String = target.into(),
                } perform(source, target)
                  undo PauseReplication { source, target }
                  show("resume replication {source} -> {target}");

                /// Disconnect replication.
                fn disconnect(source: &str, target: &str) -> () => DisconnectReplication {
                    /// Source.
                    source: String = source.into(),
                    /// Target.
                    target: String = target.into(),
                } perform(source, target)
                  undo ConnectReplication { source, target, mirror: MirrorMode::Difference }
                  show("disconnect replication {source} -> {target}");

                /// Restore a replica back over its origin (no undo: data moved).
                fn restore(from: &str, to: &str, options: RestoreOptions) -> () => Restore {
                    /// From.
                    from: String = from.into(),
                    /// To.
                    to: String = to.into(),
                    /// The "only if backup copy is more recent" option.
                    only_if_newer: bool = options.only_if_backup_newer,
                } perform(from, to, RestoreOptions { only_if_backup_newer: *only_if_newer })
                  show(
                      "restore the replica on {from} over {to}{}",
                      if *only_if_newer {
                          " (only if backup copy is more recent)"
                      } else {
                          ""
                      }
                  );
            }
            others {
                async fn wait_drained(
                    &self,
                    source: &str,
                    target: &str,
                    idle: Duration,
                    limit: Duration,
                ) -> OpResult<QueueStatus> {
                    self.inner.wait_drained(source, target, idle, limit).await
                }

                async fn queue_status(&self, source: &str, target: &str) -> OpResult<QueueStatus> {
                    self.inner.queue_status(source, target).await
                }
            }
        }
        San {
            actions {
                /// Allow an initiator on a volume.
                fn grant(volume: &str, initiator: &str) -> () => Grant {
                    /// Volume.
                    volume: String = volume.into(),
                    /// Initiator name.
                    initiator: String = initiator.into(),
                } perform(volume, initiator)
                  undo Revoke { volume, initiator }
                  show("grant {initiator} access to volume {volume}");

                /// Revoke an initiator.
                fn revoke(volume: &str, initiator: &str) -> () => Revoke {
                    /// Volume.
                    volume: String = volume.into(),
                    /// Initiator name.
                    initiator: String = initiator.into(),
                } perform(volume, initiator)
                  undo Grant { volume, initiator }
                  show("revoke {initiator}'s access to volume {volume}");

                /// Log a host in to a volume.
                fn attach(host: &str, volume: &str) -> () => Attach {
                    /// Host.
                    host: String = host.into(),
                    /// Volume.
                    volume: String = volume.into(),
                } perform(host, volume)
                  undo Detach { host, volume }
                  show("log {host} in to volume {volume}");

                /// Log a host out of a volume.
                fn detach(host: &str, volume: &str) -> () => Detach {
                    /// Host.
                    host: String = host.into(),
                    /// Volume.
                    volume: String = volume.into(),
                } perform(host, volume)
                  undo Attach { host, volume }
                  show("log {host} out of volume {volume}");

                /// Snapshot a volume (no undo: snapshots are kept).
                fn snapshot(volume: &str, name: &str) -> () => Snapshot {
                    /// Volume.
                    volume: String = volume.into(),
                    /// Snapshot name.
                    name: String = name.into(),
                } perform(volume, name)
                  show("snapshot volume {volume} as {name}");
            }
            others {}
        }
        Switches {
            actions {}
            others {
                async fn set_port_vlans(&self, server: &str, vlans: &[u16]) -> OpResult<()> {
                    let previous = self.known.borrow().vlans.get(server).cloned();
                    let a = Action::SetPortVlans {
                        server: server.into(),
                        vlans: vlans.to_vec(),
                        previous,
                    };
                    let undo = a.inverse();
                    self.record(
                        a,
                        undo,
                        || self.inner.set_port_vlans(server, vlans),
                        |k| {
                            k.vlans.insert(server.into(), vlans.to_vec());
                        },
                    )
                    .await
                }
            }
        }
        Archives {
            actions {
                /// Take an archive (no undo: archives are kept).
                fn take_archive(host: &str, level_h: u32) -> ArchiveInfo => TakeArchive {
                    /// Host.
                    host: String = host.into(),
                    /// Level in hours.
                    level_h: u32 = level_h,
                } perform(host, *level_h)
                  show("take a {level_h} h archive of {host}");

                /// Restore an archive over a host's stores (no undo: data replaced).
                fn restore_archive(id: &str, host: &str) -> () => RestoreArchive {
                    /// Archive id.
                    id: String = id.into(),
                    /// Host.
                    host: String = host.into(),
                } perform(id, host)
                  show("restore archive {id} over {host}");
            }
            others {
                async fn list_archives(&self, host: &str) -> OpResult<Vec<ArchiveInfo>> {
                    self.inner.list_archives(host).await
                }
            }
        }
        Faults {
            actions {}
            others {
                async fn inject(&self, fault: &Fault) -> OpResult<()> {
                    let a = fault_action(fault);
                    self.act(a, || self.inner.inject(fault)).await
                }
            }
        }
        }
    };
}
pub(crate) use capabilities;

/// Generates, from [`capabilities!`], what its mode says (see the module).
macro_rules! caps_gen {
    ({ @enum $($extra:tt)* }
        $( $tr:ident {
            actions { $(
                $(#[$va:meta])*
                fn $m:ident ( $($a:ident : $at:ty),* $(,)? ) -> $ret:ty => $V:ident {
                    $( $(#[$fa:meta])* $f:ident : $ft:ty = $fe:expr ),* $(,)?
                } perform ( $($pa:expr),* $(,)? )
                $( undo $U:ident { $($ut:tt)* } )?
                $( learn ( $($learn:tt)* ) )?
                show ( $($show:tt)* ) ;
            )* }
            others { $($other:tt)* }
        } )*
    ) => {
        /// A state-changing action at the interface level, with the arguments
        /// needed to repeat or undo it. Its simple variants come from
        /// `capabilities!` (`src/capabilities.rs`).
        #[derive(Clone, Debug, PartialEq, ::serde::Serialize, ::serde::Deserialize)]
        #[serde(tag = "kind", rename_all = "kebab-case")]
        pub enum Action {
            $( $(
                $(#[$va])*
                $V {
                    $( $(#[$fa])* $f: $ft, )*
                },
            )* )*
            $($extra)*
        }
    };
    ({ @inverse $($extra:tt)* }
        $( $tr:ident {
            actions { $(
                $(#[$va:meta])*
                fn $m:ident ( $($a:ident : $at:ty),* $(,)? ) -> $ret:ty => $V:ident {
                    $( $(#[$fa:meta])* $f:ident : $ft:ty = $fe:expr ),* $(,)?
                } perform ( $($pa:expr),* $(,)? )
                $( undo $U:ident { $($ut:tt)* } )?
                $( learn ( $($learn:tt)* ) )?
                show ( $($show:tt)* ) ;
            )* }
            others { $($other:tt)* }
        } )*
    ) => {
        impl Action {
            /// The action that undoes this one, when there is one.
            #[allow(unused_variables)]
            pub fn inverse(&self) -> Option<Action> {
                match self {
                    $( $(
                        Action::$V { $($f),* } => {
                            $( let $f = $crate::capabilities::own($f); )*
                            $crate::capabilities::undo_of!($( $U { $($ut)* } )?)
                        }
                    )* )*
                    $($extra)*
                }
            }
        }
    };
    ({ @display $fo:ident; $($extra:tt)* }
        $( $tr:ident {
            actions { $(
                $(#[$va:meta])*
                fn $m:ident ( $($a:ident : $at:ty),* $(,)? ) -> $ret:ty => $V:ident {
                    $( $(#[$fa:meta])* $f:ident : $ft:ty = $fe:expr ),* $(,)?
                } perform ( $($pa:expr),* $(,)? )
                $( undo $U:ident { $($ut:tt)* } )?
                $( learn ( $($learn:tt)* ) )?
                show ( $($show:tt)* ) ;
            )* }
            others { $($other:tt)* }
        } )*
    ) => {
        impl ::std::fmt::Display for Action {
            #[allow(unused_variables)]
            fn fmt(&self, $fo: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                match self {
                    $( $(
                        Action::$V { $($f),* } => write!($fo, $($show)*),
                    )* )*
                    $($extra)*
                }
            }
        }
    };
    ({ @perform $b:ident, $act:ident; $($extra:tt)* }
        $( $tr:ident {
            actions { $(
                $(#[$va:meta])*
                fn $m:ident ( $($a:ident : $at:ty),* $(,)? ) -> $ret:ty => $V:ident {
                    $( $(#[$fa:meta])* $f:ident : $ft:ty = $fe:expr ),* $(,)?
                } perform ( $($pa:expr),* $(,)? )
                $( undo $U:ident { $($ut:tt)* } )?
                $( learn ( $($learn:tt)* ) )?
                show ( $($show:tt)* ) ;
            )* }
            others { $($other:tt)* }
        } )*
    ) => {
        /// Carries out one journal action through the interface (rollback
        /// performs undos with it): the simple actions call the method of
        /// their row in `capabilities!` (`src/capabilities.rs`).
        pub async fn perform<B: Backend>($b: &B, $act: &Action) -> OpResult<()> {
            match $act {
                $( $(
                    Action::$V { $($f),* } => $b.$m($($pa),*).await.map(drop),
                )* )*
                $($extra)*
            }
        }
    };
    ({ @ops $c:ident, $act:ident; $($extra:tt)* }
        $( $tr:ident {
            actions { $(
                $(#[$va:meta])*
                fn $m:ident ( $($a:ident : $at:ty),* $(,)? ) -> $ret:ty => $V:ident {
                    $( $(#[$fa:meta])* $f:ident : $ft:ty = $fe:expr ),* $(,)?
                } perform ( $($pa:expr),* $(,)? )
                $( undo $U:ident { $($ut:tt)* } )?
                $( learn ( $($learn:tt)* ) )?
                show ( $($show:tt)* ) ;
            )* }
            others { $($other:tt)* }
        } )*
    ) => {
        /// The operations of `a` by `c`: the builder of the backend method that
        /// [`crate::recorded::perform`] calls for `a`, with the same arguments
        /// (for the simple actions, the same-named builder of their row in
        /// `capabilities!` (`src/capabilities.rs`)).
        pub fn ops_of($c: &Commands<'_>, $act: &Action) -> OpResult<Vec<LabOp>> {
            match $act {
                $( $(
                    Action::$V { $($f),* } => $c.$m($($pa),*),
                )* )*
                $($extra)*
            }
        }
    };
    ({ @wrap }
        $( $tr:ident {
            actions { $(
                $(#[$va:meta])*
                fn $m:ident ( $($a:ident : $at:ty),* $(,)? ) -> $ret:ty => $V:ident {
                    $( $(#[$fa:meta])* $f:ident : $ft:ty = $fe:expr ),* $(,)?
                } perform ( $($pa:expr),* $(,)? )
                $( undo $U:ident { $($ut:tt)* } )?
                $( learn ( $($learn:tt)* ) )?
                show ( $($show:tt)* ) ;
            )* }
            others { $($other:tt)* }
        } )*
    ) => {
        $(
            impl<B: Backend> $tr for Recorded<'_, B> {
                $(
                    async fn $m(&self, $($a: $at),*) -> OpResult<$ret> {
                        let action = Action::$V { $($f: $fe),* };
                        let undo = action.inverse();
                        self.record(
                            action,
                            undo,
                            || self.inner.$m($($a),*),
                            $crate::capabilities::learn_of!($($($learn)*)?),
                        )
                        .await
                    }
                )*
                $($other)*
            }
        )*
    };
}
pub(crate) use caps_gen;

/// The undo of a row: none, or the variant built from the row's fields.
macro_rules! undo_of {
    () => {
        None
    };
    ($U:ident { $($t:tt)* }) => {
        Some($crate::journal::Action::$U { $($t)* })
    };
}
pub(crate) use undo_of;

/// The update of the wrapper's known state after a row's call succeeded.
macro_rules! learn_of {
    () => {
        |_: &mut $crate::recorded::Known| {}
    };
    ($k:ident => $body:block) => {
        |$k: &mut $crate::recorded::Known| $body
    };
}
pub(crate) use learn_of;

/// A field's value for an undo (fields are bound by reference).
pub(crate) fn own<T: Clone>(x: &T) -> T {
    x.clone()
}
