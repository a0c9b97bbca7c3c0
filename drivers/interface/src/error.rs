//! Operating errors a backend reports for a capability call.
//!
//! These are the expected failures of a drill (a host is down, a service
//! refuses to start, a DNS zone refuses updates), not bugs: runbooks branch on
//! them and reports show them. Bugs are `assert!`s.

use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;

/// The error of a capability call, as a runbook sees it.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum OpError {
    /// The host (or its network) did not answer.
    #[error("{host} is unreachable")]
    Unreachable {
        /// The host that was addressed.
        host: Arc<str>,
    },
    /// The operation did not complete within its time limit.
    #[error("{op} timed out after {}s", after.as_secs_f64())]
    Timeout {
        /// What was attempted.
        op: Arc<str>,
        /// The limit that elapsed.
        after: Duration,
    },
    /// A named object (host, service, store, record, volume...) does not exist.
    #[error("{what} not found")]
    NotFound {
        /// What was looked for, e.g. `service MSExchangeIS on EXCH2`.
        what: Arc<str>,
    },
    /// The peer refused the request (connection refused, update refused, ACL).
    #[error("refused: {reason}")]
    Refused {
        /// Why, as the peer or the model says it.
        reason: Arc<str>,
    },
    /// A service was asked to start and did not reach the running state.
    #[error("service {service} on {host} failed to start: {reason}")]
    ServiceFailed {
        /// The host.
        host: Arc<str>,
        /// The service.
        service: Arc<str>,
        /// Why, e.g. a dependency not running.
        reason: Arc<str>,
    },
    /// The object is in a state that does not allow the operation.
    #[error("invalid state: {reason}")]
    InvalidState {
        /// What state prevented the operation.
        reason: Arc<str>,
    },
    /// The backend cannot do this operation at all (e.g. a capability the
    /// inventory does not provide). Reported, never silently skipped.
    #[error("unsupported by this backend: {what}")]
    Unsupported {
        /// The operation.
        what: Arc<str>,
    },
    /// A transport or tool failure of a real backend (SSH, LDAP, DNS...).
    #[error("backend I/O: {detail}")]
    Io {
        /// The underlying error, with secrets removed.
        detail: Arc<str>,
    },
}

/// The kind of an [`OpError`] without its details: cheap to record for
/// every failed write or probe.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, serde::Deserialize,
)]
#[serde(rename_all = "kebab-case")]
pub enum ErrorKind {
    /// See [`OpError::Unreachable`].
    Unreachable,
    /// See [`OpError::Timeout`].
    Timeout,
    /// See [`OpError::NotFound`].
    NotFound,
    /// See [`OpError::Refused`].
    Refused,
    /// See [`OpError::ServiceFailed`].
    ServiceFailed,
    /// See [`OpError::InvalidState`].
    InvalidState,
    /// See [`OpError::Unsupported`].
    Unsupported,
    /// See [`OpError::Io`].
    Io,
}

impl ErrorKind {
    /// A stable small number for the trace encoding.
    pub fn code(self) -> u8 {
        self as u8
    }

    /// The kebab-case name used in reports.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::Unreachable => "unreachable",
            ErrorKind::Timeout => "timeout",
            ErrorKind::NotFound => "not-found",
            ErrorKind::Refused => "refused",
            ErrorKind::ServiceFailed => "service-failed",
            ErrorKind::InvalidState => "invalid-state",
            ErrorKind::Unsupported => "unsupported",
            ErrorKind::Io => "io",
        }
    }
}

impl OpError {
    /// The kind of this error.
    pub fn kind(&self) -> ErrorKind {
        match self {
            OpError::Unreachable { .. } => ErrorKind::Unreachable,
            OpError::Timeout { .. } => ErrorKind::Timeout,
            OpError::NotFound { .. } => ErrorKind::NotFound,
            OpError::Refused { .. } => ErrorKind::Refused,
            OpError::ServiceFailed { .. } => ErrorKind::ServiceFailed,
            OpError::InvalidState { .. } => ErrorKind::InvalidState,
            OpError::Unsupported { .. } => ErrorKind::Unsupported,
            OpError::Io { .. } => ErrorKind::Io,
        }
    }

    /// Shorthand for [`OpError::Unreachable`].
    pub fn unreachable(host: impl Into<Arc<str>>) -> OpError {
        OpError::Unreachable { host: host.into() }
    }

    /// Shorthand for [`OpError::NotFound`].
    pub fn not_found(what: impl Into<Arc<str>>) -> OpError {
        OpError::NotFound { what: what.into() }
    }

    /// Shorthand for [`OpError::Refused`].
    pub fn refused(reason: impl Into<Arc<str>>) -> OpError {
        OpError::Refused {
            reason: reason.into(),
        }
    }

    /// The refusal of a DNS record change by a zone that does not take
    /// dynamic updates, in the same words from every backend, with the
    /// remedy the Storage Mirroring guide gives (appendix A: "DNSCMD
    /// commands will only work if dynamic updates are enabled on the DNS
    /// zone"). `answer` is what a real server said, when one did.
    pub fn dynamic_updates_refused(zone: &str, answer: Option<&str>) -> OpError {
        let mut reason = format!(
            "zone {zone} does not allow dynamic updates (enable them, or edit the zone by other means)"
        );
        if let Some(a) = answer {
            reason.push_str(": ");
            reason.push_str(a);
        }
        OpError::refused(reason)
    }

    /// Shorthand for [`OpError::InvalidState`].
    pub fn invalid_state(reason: impl Into<Arc<str>>) -> OpError {
        OpError::InvalidState {
            reason: reason.into(),
        }
    }

    /// Shorthand for [`OpError::Timeout`].
    pub fn timeout(op: impl Into<Arc<str>>, after: Duration) -> OpError {
        OpError::Timeout {
            op: op.into(),
            after,
        }
    }
}
