//! Linux dialect: service commands for the lab's mail hosts, which run the
//! image's own service manager `/usr/local/sbin/drlab-svc` (see
//! `lab/images/README.md`), and parsing of its answers.
//!
//! `drlab-svc` prints one line `NAME running|stopped startup=TYPE` and exits
//! with LSB codes: 0 ok/running, 1 failed, 3 stopped (status), 4 unknown
//! service, 6 start refused because the service is disabled.

use drlab_drivers::error::OpError;
use drlab_drivers::types::{ServiceState, StartupType};

use super::{DialectError, ServiceStatus};
use crate::ssh::sh_quote;

/// The service manager on the lab image.
pub const SVC: &str = "/usr/local/sbin/drlab-svc";

/// Longest service name accepted.
pub const SERVICE_NAME_MAX_CHARS: usize = 64;

/// Checks a lab service name: `[a-z0-9][a-z0-9._@-]*`, at most
/// [`SERVICE_NAME_MAX_CHARS`]. Names are quoted anyway; this refuses names
/// that cannot be services before anything runs.
pub fn check_service(name: &str) -> Result<(), DialectError> {
    let bad = |why| {
        Err(DialectError::InvalidName {
            name: name.to_string(),
            why,
        })
    };
    if name.is_empty() || name.len() > SERVICE_NAME_MAX_CHARS {
        return bad("must be 1 to 64 characters");
    }
    if !name.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit()) {
        return bad("must start with a lower-case letter or digit");
    }
    if !name
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "._@-".contains(c))
    {
        return bad("may contain only a-z, 0-9, '.', '_', '@' and '-'");
    }
    Ok(())
}

fn svc(verb: &str, service: &str) -> Result<String, DialectError> {
    check_service(service)?;
    Ok(format!("{SVC} {verb} {}", sh_quote(service)))
}

/// Starts a service and waits (inside `drlab-svc`) until it runs.
pub fn start(service: &str) -> Result<String, DialectError> {
    svc("start", service)
}

/// Stops a service and waits until it is stopped.
pub fn stop(service: &str) -> Result<String, DialectError> {
    svc("stop", service)
}

/// Asks a service's state and startup type.
pub fn status(service: &str) -> Result<String, DialectError> {
    svc("status", service)
}

/// Kills a service's main process with SIGKILL (the fault "a service dies").
pub fn kill(service: &str) -> Result<String, DialectError> {
    svc("kill", service)
}

/// Restarts a service: stops it (waking and ending a hung process) and
/// starts it again (the fault `restart-service`).
pub fn restart(service: &str) -> Result<String, DialectError> {
    svc("restart", service)
}

/// Freezes a service's processes with SIGSTOP (the fault "a service hangs":
/// still running for the service manager, serving nobody); a stop or
/// restart wakes and ends them.
pub fn hang(service: &str) -> Result<String, DialectError> {
    svc("hang", service)
}

/// The startup type's name in `drlab-svc`.
pub fn startup_name(startup: StartupType) -> &'static str {
    match startup {
        StartupType::Automatic => "automatic",
        StartupType::Manual => "manual",
        StartupType::Disabled => "disabled",
    }
}

/// Sets a service's startup type (it applies at the host's next boot, and a
/// disabled service refuses to start).
pub fn set_startup(service: &str, startup: StartupType) -> Result<String, DialectError> {
    Ok(format!(
        "{} {}",
        svc("startup", service)?,
        startup_name(startup)
    ))
}

/// Lists every service of the host, one status line each.
pub fn list() -> String {
    format!("{SVC} list")
}

/// Parses the answer of `start`, `stop`, `status` or `set_startup`'s status
/// line from its exit status and output.
pub fn parse_status(
    service: &str,
    exit_status: Option<u32>,
    stdout: &str,
    stderr: &str,
) -> Result<ServiceStatus, DialectError> {
    let failed = |detail: String| DialectError::Failed {
        service: service.to_string(),
        detail,
    };
    match exit_status {
        Some(4) => {
            return Err(DialectError::UnknownService {
                service: service.to_string(),
            });
        }
        Some(6) => {
            return Err(DialectError::Disabled {
                service: service.to_string(),
            });
        }
        Some(0 | 3) => {}
        Some(n) => {
            let why = stderr.lines().next().unwrap_or("").trim();
            return Err(failed(if why.is_empty() {
                format!("exit status {n}")
            } else {
                why.to_string()
            }));
        }
        None => return Err(failed("killed by a signal".into())),
    }
    let unparseable = || DialectError::Unparseable {
        service: service.to_string(),
        answer: stdout.chars().take(200).collect(),
    };
    let line = stdout
        .lines()
        .find(|l| l.split_whitespace().next() == Some(service))
        .ok_or_else(unparseable)?;
    parse_line(line).map(|(_, s)| s).ok_or_else(unparseable)
}

/// Parses one `NAME running|stopped startup=TYPE` line.
pub fn parse_line(line: &str) -> Option<(String, ServiceStatus)> {
    let mut words = line.split_whitespace();
    let name = words.next()?;
    let state = match words.next()? {
        "running" => ServiceState::Running,
        "stopped" => ServiceState::Stopped,
        _ => return None,
    };
    let startup = match words.next()?.strip_prefix("startup=")? {
        "automatic" => StartupType::Automatic,
        "manual" => StartupType::Manual,
        "disabled" => StartupType::Disabled,
        _ => return None,
    };
    Some((name.to_string(), ServiceStatus { state, startup }))
}

/// Parses the output of [`list`].
pub fn parse_list(stdout: &str) -> Vec<(String, ServiceStatus)> {
    stdout.lines().filter_map(parse_line).collect()
}

/// The interface's error for a dialect error on `host`.
pub fn op_error(host: &str, e: DialectError) -> OpError {
    match e {
        DialectError::UnknownService { service } => OpError::NotFound {
            what: format!("service {service} on {host}").into(),
        },
        DialectError::Disabled { service } => OpError::ServiceFailed {
            host: host.into(),
            service: service.into(),
            reason: "the service is disabled".into(),
        },
        DialectError::Failed { service, detail } => OpError::ServiceFailed {
            host: host.into(),
            service: service.into(),
            reason: detail.into(),
        },
        e => OpError::Io {
            detail: format!("{host}: {e}").into(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands() {
        assert_eq!(
            start("postfix").unwrap(),
            "/usr/local/sbin/drlab-svc start postfix"
        );
        assert_eq!(
            set_startup("exchange-sa", StartupType::Manual).unwrap(),
            "/usr/local/sbin/drlab-svc startup exchange-sa manual"
        );
        assert_eq!(
            kill("dovecot").unwrap(),
            "/usr/local/sbin/drlab-svc kill dovecot"
        );
        assert!(start("Post fix").is_err());
        assert!(start("a;rm -rf /").is_err());
        assert!(start("").is_err());
        assert!(start(&"a".repeat(65)).is_err());
    }

    #[test]
    fn status_parsing() {
        let s = parse_status(
            "postfix",
            Some(0),
            "postfix running startup=automatic\n",
            "",
        )
        .unwrap();
        assert_eq!(s.state, ServiceState::Running);
        assert_eq!(s.startup, StartupType::Automatic);
        let s = parse_status("imap", Some(3), "imap stopped startup=manual\n", "").unwrap();
        assert_eq!(s.state, ServiceState::Stopped);
        assert_eq!(s.startup, StartupType::Manual);
        assert_eq!(
            parse_status("w3svc", Some(6), "w3svc stopped startup=disabled\n", "x"),
            Err(DialectError::Disabled {
                service: "w3svc".into()
            })
        );
        assert!(matches!(
            parse_status("nope", Some(4), "", "drlab-svc: unknown service 'nope'"),
            Err(DialectError::UnknownService { .. })
        ));
        assert_eq!(
            parse_status(
                "dovecot",
                Some(1),
                "",
                "drlab-svc: dovecot start failed\nmore"
            ),
            Err(DialectError::Failed {
                service: "dovecot".into(),
                detail: "drlab-svc: dovecot start failed".into()
            })
        );
        assert!(matches!(
            parse_status("postfix", Some(0), "garbage", ""),
            Err(DialectError::Unparseable { .. })
        ));
        let all = parse_list("a running startup=automatic\nb stopped startup=manual\nnoise\n");
        assert_eq!(all.len(), 2);
    }
}
