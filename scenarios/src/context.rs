//! What a runbook works with: the backend, the recorder, the scenario, and
//! the two-site state machine. Steps are recorded as they start and end, and
//! a step's operation runs as that step ([`Recorder::in_step`]), so the calls
//! it makes, and only those, are known to be the step's.

use std::cell::Cell;
use std::future::Future;
use std::sync::Arc;

use drlab_drivers::event::{ServiceAction, StepOutcome};
use drlab_drivers::{Backend, DrState, EventKind, OpError, Recorder, Transition};

use crate::format::Scenario;

/// A runbook step that failed, with the error that stopped it.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("step '{step}' failed: {error}")]
pub struct StepFailed {
    /// The step's name.
    pub step: Arc<str>,
    /// Its error.
    pub error: OpError,
}

/// The runbook's view of a drill.
pub struct Ctx<'a, B> {
    /// The backend.
    pub b: &'a B,
    /// Where events go.
    pub rec: &'a Recorder<'a>,
    /// The scenario.
    pub s: &'a Scenario,
    state: Cell<DrState>,
}

impl<'a, B: Backend> Ctx<'a, B> {
    /// A context in state Normal.
    pub fn new(b: &'a B, rec: &'a Recorder<'a>, s: &'a Scenario) -> Ctx<'a, B> {
        Ctx {
            b,
            rec,
            s,
            state: Cell::new(DrState::Normal),
        }
    }

    /// Records `kind` now.
    pub fn emit(&self, kind: EventKind) {
        self.rec.emit(self.b.now(), kind);
    }

    /// The current two-site state.
    pub fn state(&self) -> DrState {
        self.state.get()
    }

    /// Takes a transition of Figure 2. Drill logic only fires legal ones; an
    /// illegal one is a bug in drlab, not an operating error.
    pub fn fire(&self, t: Transition) {
        let from = self.state.get();
        let to = t
            .apply(from)
            .unwrap_or_else(|e| panic!("drill logic error: {e}"));
        self.state.set(to);
        self.emit(EventKind::StateChanged {
            from,
            to,
            transition: t,
        });
    }

    /// Runs one step, recording its start, end and outcome. `op` runs as the
    /// step: while it is polled [`Recorder::current_step`] names it (a
    /// journalled backend files `op`'s actions under it), while the drill's
    /// other activities, polled in between, are not inside it.
    pub async fn step<T>(
        &self,
        name: impl Into<Arc<str>>,
        op: impl Future<Output = Result<T, OpError>>,
    ) -> Result<T, StepFailed> {
        let step: Arc<str> = name.into();
        self.emit(EventKind::StepStarted { step: step.clone() });
        let r = self.rec.in_step(step.clone(), op).await;
        let outcome = match &r {
            Ok(_) => StepOutcome::Ok,
            Err(e) => StepOutcome::Failed {
                error: e.to_string().into(),
            },
        };
        self.emit(EventKind::StepFinished {
            step: step.clone(),
            outcome,
        });
        r.map_err(|error| StepFailed { step, error })
    }

    /// Starts `service` on `host`, recorded first as the current step's
    /// request (`runbook-order` checks it against the declared
    /// dependencies). Runbooks start services through this, never the
    /// backend's method directly.
    pub async fn start_service(&self, host: &str, service: &str) -> Result<(), OpError> {
        self.request(host, service, ServiceAction::Start);
        self.b.start_service(host, service).await
    }

    /// Stops `service` on `host`, recorded as [`Ctx::start_service`] is.
    pub async fn stop_service(&self, host: &str, service: &str) -> Result<(), OpError> {
        self.request(host, service, ServiceAction::Stop);
        self.b.stop_service(host, service).await
    }

    fn request(&self, host: &str, service: &str, action: ServiceAction) {
        self.emit(EventKind::ServiceRequested {
            step: self.rec.current_step().unwrap_or_else(|| "".into()),
            host: host.into(),
            service: service.into(),
            action,
        });
    }

    /// A fixed wait as a step of its own (`dtcl wait 20000`).
    pub async fn wait_step(&self, secs: f64) {
        let d = drlab_drivers::time::secs(secs);
        let _ = self
            .step(format!("wait {}s", fmt_secs(secs)), async {
                self.b.sleep(d).await;
                Ok(())
            })
            .await;
    }
}

/// `20` for 20.0, `2.5` for 2.5.
pub fn fmt_secs(s: f64) -> String {
    if s.fract() == 0.0 {
        format!("{}", s as i64)
    } else {
        format!("{s}")
    }
}
