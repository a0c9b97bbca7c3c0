//! Services: start (with dependencies, readiness delays and first-start
//! failures), stop, status and startup type.

use std::time::Duration;

use drlab_drivers::OpError;
use drlab_drivers::types::{ServiceState, StartupType};

use super::{Micros, World, us};

impl World {
    fn service_dist(
        &self,
        name: &str,
        pick: fn(&drlab_scenarios::format::ServiceTiming) -> Option<drlab_scenarios::format::Dist>,
        default: drlab_scenarios::format::Dist,
    ) -> drlab_scenarios::format::Dist {
        self.timing
            .services
            .get(name)
            .and_then(pick)
            .unwrap_or(default)
    }

    /// Begins a start: validates and returns how long the start takes, with
    /// the host epoch to check at the end. `None` when already running.
    pub fn begin_start(
        &mut self,
        h: usize,
        name: &str,
    ) -> Result<Option<(Duration, u32)>, OpError> {
        let host = &self.hosts[h];
        if !host.up {
            return Err(OpError::unreachable(host.name.clone()));
        }
        let i = host.service(name)?;
        let svc = &host.services[i];
        match svc.state {
            ServiceState::Running => return Ok(None),
            ServiceState::StartPending | ServiceState::StopPending => {
                return Err(OpError::invalid_state(format!(
                    "{name} on {} is {:?}",
                    host.name, svc.state
                )));
            }
            ServiceState::Stopped => {}
        }
        if svc.startup == StartupType::Disabled {
            return Err(OpError::refused(format!(
                "{name} on {} is disabled",
                host.name
            )));
        }
        let epoch = host.epoch;
        let dist = self.service_dist(name, |t| t.start_s, self.timing.service_start_s);
        let d = self.rng.sample(&dist);
        self.hosts[h].services[i].state = ServiceState::StartPending;
        Ok(Some((d, epoch)))
    }

    /// Completes a start begun at `epoch`.
    pub fn finish_start(
        &mut self,
        h: usize,
        name: &str,
        epoch: u32,
        now: Micros,
    ) -> Result<(), OpError> {
        let host = &self.hosts[h];
        if !host.up || host.epoch != epoch {
            return Err(OpError::unreachable(host.name.clone()));
        }
        let i = host.service(name)?;
        let fail = |w: &mut World, reason: String| {
            let host = &mut w.hosts[h];
            host.services[i].state = ServiceState::Stopped;
            host.services[i].attempted_since_boot = true;
            Err(OpError::ServiceFailed {
                host: host.name.clone(),
                service: name.into(),
                reason: reason.into(),
            })
        };
        let missing: Vec<String> = host.services[i]
            .requires
            .iter()
            .filter(|&&r| !host.services[r].ready(now))
            .map(|&r| host.services[r].name.to_string())
            .collect();
        if !missing.is_empty() {
            return fail(
                self,
                format!("it requires {}, which is not ready", missing.join(", ")),
            );
        }
        let p = self
            .timing
            .services
            .get(name)
            .map_or(0.0, |t| t.first_start_failure_probability);
        if !self.hosts[h].services[i].attempted_since_boot && self.rng.chance(p) {
            return fail(
                self,
                "it did not start on the first attempt after boot".into(),
            );
        }
        let dist = self.service_dist(name, |t| t.ready_s, self.timing.service_ready_s);
        let ready = self.rng.sample(&dist);
        let svc = &mut self.hosts[h].services[i];
        svc.state = ServiceState::Running;
        svc.ready_at = now + us(ready);
        svc.attempted_since_boot = true;
        svc.failed = false;
        Ok(())
    }

    /// Begins a stop; `None` when already stopped.
    pub fn begin_stop(&mut self, h: usize, name: &str) -> Result<Option<(Duration, u32)>, OpError> {
        let host = &self.hosts[h];
        if !host.up {
            return Err(OpError::unreachable(host.name.clone()));
        }
        let i = host.service(name)?;
        if host.services[i].state == ServiceState::Stopped {
            return Ok(None);
        }
        let epoch = host.epoch;
        let dist = self.service_dist(name, |t| t.stop_s, self.timing.service_stop_s);
        let d = self.rng.sample(&dist);
        self.hosts[h].services[i].state = ServiceState::StopPending;
        Ok(Some((d, epoch)))
    }

    /// Completes a stop. Stopping the store service dismounts its stores.
    pub fn finish_stop(
        &mut self,
        h: usize,
        name: &str,
        epoch: u32,
        now: Micros,
    ) -> Result<(), OpError> {
        let is_store_service = *self.store_service == *name;
        let host = &mut self.hosts[h];
        if !host.up || host.epoch != epoch {
            return Err(OpError::unreachable(host.name.clone()));
        }
        let i = host.service(name)?;
        host.services[i].state = ServiceState::Stopped;
        host.services[i].failed = false;
        if is_store_service {
            for st in &mut host.stores {
                if st.mounted {
                    st.mounted = false;
                    st.modified_at = now;
                }
            }
        }
        Ok(())
    }

    /// Whether the named service is ready on `h`.
    pub fn service_ready(&self, h: usize, name: &str, now: Micros) -> bool {
        let host = &self.hosts[h];
        host.services
            .iter()
            .any(|s| &*s.name == name && s.ready(now))
    }
}
