//! Service dialects: how service, store and identity commands are phrased on
//! a host, as pure command builders (no I/O) and parsers of their answers.
//! `linux` drives the lab image's `drlab-svc`; `windows` phrases PowerShell
//! over OpenSSH for Windows hosts.

pub mod linux;
pub mod windows;

use drlab_drivers::types::{ServiceState, StartupType};

/// A service's state and startup type, as a dialect parses them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ServiceStatus {
    /// Running or not.
    pub state: ServiceState,
    /// Startup type.
    pub startup: StartupType,
}

/// Why a dialect could not build a command or understand an answer.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DialectError {
    /// The name is not a valid service (or host) name for this dialect.
    #[error("invalid name {name:?}: {why}")]
    InvalidName {
        /// The name.
        name: String,
        /// What is wrong with it.
        why: &'static str,
    },
    /// The service manager does not know the service.
    #[error("unknown service {service}")]
    UnknownService {
        /// The service.
        service: String,
    },
    /// The service is disabled, so it cannot be started.
    #[error("service {service} is disabled")]
    Disabled {
        /// The service.
        service: String,
    },
    /// The command ran and failed.
    #[error("service {service}: {detail}")]
    Failed {
        /// The service.
        service: String,
        /// What the host said (first line of stderr, or the exit status).
        detail: String,
    },
    /// The answer is not in the expected format.
    #[error("cannot parse the answer about {service}: {answer:?}")]
    Unparseable {
        /// The service.
        service: String,
        /// The answer (first 200 characters).
        answer: String,
    },
}
