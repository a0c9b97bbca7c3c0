//! SSH client for lab hosts (russh with the `ring` backend): password or key
//! authentication from the inventory, host keys checked against a
//! known_hosts file (or pinned on first use), one connection per host reused
//! by every command, and a time limit on connecting and on each command.
//!
//! Nothing here logs, and no error carries a secret or a command line: a
//! command may be arbitrary text, so errors name the host and the limit only.

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex as StdMutex};
use std::time::Duration;

use russh::client::{self, AuthResult, Handle};
use russh::keys::ssh_key::LineEnding;
use russh::keys::ssh_key::private::Ed25519Keypair;
use russh::keys::{HashAlg, PrivateKey, PrivateKeyWithHashAlg, PublicKey, PublicKeyOrCertificate};
use russh::{ChannelMsg, Disconnect};
use tokio::sync::Mutex;

use drlab_drivers::error::OpError;

use crate::inventory::{HostEntry, Inventory};
use crate::secret::{Secret, SecretError};

/// Limits of the client. Units are in the names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SshLimits {
    /// TCP connect, key exchange and authentication together.
    pub connect_timeout_ms: u64,
    /// Bytes kept of each of stdout and stderr; the rest is dropped and
    /// [`Output::truncated`] is set.
    pub output_max_bytes: usize,
    /// Interval of SSH keepalives on an idle connection, so that a dead peer
    /// is noticed and the connection replaced.
    pub keepalive_interval_ms: u64,
}

impl Default for SshLimits {
    fn default() -> SshLimits {
        SshLimits {
            connect_timeout_ms: 5_000,
            output_max_bytes: 16 * 1024 * 1024,
            keepalive_interval_ms: 5_000,
        }
    }
}

/// How the client authenticates.
#[derive(Clone, Debug)]
pub enum SshAuth {
    /// Password authentication.
    Password(Secret),
    /// Public-key authentication with an OpenSSH private key file (not
    /// encrypted with a passphrase).
    KeyFile(PathBuf),
    /// The key first, then the password if the key is refused.
    KeyThenPassword(PathBuf, Secret),
}

/// How the server's host key is checked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HostKeyPolicy {
    /// The key must be listed for the address in this known_hosts file.
    KnownHosts(PathBuf),
    /// The first key seen for an address in this process is pinned; a
    /// different key later is refused. For labs whose host keys are made at
    /// container start and not recorded anywhere.
    PinOnFirstUse,
}

/// One host as the client reaches it.
#[derive(Clone, Debug)]
pub struct SshTarget {
    /// The scenario's host name (errors name it).
    pub host: String,
    /// Address and port.
    pub addr: SocketAddr,
    /// Login user.
    pub user: String,
    /// Credentials.
    pub auth: SshAuth,
    /// Host key check.
    pub host_keys: HostKeyPolicy,
}

impl SshTarget {
    /// The SSH access of an inventory host: the password credential (read
    /// now from its source) and/or the key file, and the known_hosts file.
    pub fn from_inventory(inventory: &Inventory, host: &str) -> Result<SshTarget, SshError> {
        let entry = inventory
            .host(host)
            .ok_or_else(|| SshError::NotInInventory { host: host.into() })?;
        SshTarget::from_entry(inventory, entry)
    }

    /// As [`SshTarget::from_inventory`], for an entry already looked up.
    pub fn from_entry(inventory: &Inventory, entry: &HostEntry) -> Result<SshTarget, SshError> {
        let host = entry.name.clone();
        let ssh = entry
            .ssh
            .as_ref()
            .ok_or_else(|| SshError::NotInInventory { host: host.clone() })?;
        let password = match &ssh.password_credential {
            Some(name) => {
                let source = inventory
                    .credentials
                    .get(name)
                    .ok_or_else(|| SshError::NoCredential { host: host.clone() })?;
                Some(source.load().map_err(|source| SshError::Secret {
                    host: host.clone(),
                    source,
                })?)
            }
            None => None,
        };
        let auth = match (ssh.key_file.clone(), password) {
            (Some(k), Some(p)) => SshAuth::KeyThenPassword(k, p),
            (Some(k), None) => SshAuth::KeyFile(k),
            (None, Some(p)) => SshAuth::Password(p),
            (None, None) => return Err(SshError::NoCredential { host }),
        };
        Ok(SshTarget {
            addr: entry
                .ssh_addr()
                .unwrap_or_else(|| SocketAddr::new(entry.address, ssh.port)),
            user: ssh.user.clone(),
            auth,
            host_keys: ssh
                .known_hosts
                .clone()
                .map_or(HostKeyPolicy::PinOnFirstUse, HostKeyPolicy::KnownHosts),
            host,
        })
    }
}

/// What a command did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Output {
    /// Exit status; `None` when the command was killed by a signal or the
    /// server did not report one.
    pub exit_status: Option<u32>,
    /// Signal name when the command died of a signal.
    pub exit_signal: Option<String>,
    /// Standard output (lossy UTF-8).
    pub stdout: String,
    /// Standard error (lossy UTF-8).
    pub stderr: String,
    /// True when output beyond [`SshLimits::output_max_bytes`] was dropped.
    pub truncated: bool,
}

impl Output {
    /// Exit status 0.
    pub fn success(&self) -> bool {
        self.exit_status == Some(0)
    }
}

/// Why an SSH operation failed. Never contains a secret or a command line.
#[derive(Debug, thiserror::Error)]
pub enum SshError {
    /// The host is not in the inventory, or has no `ssh` entry.
    #[error("{host}: not an SSH host of the inventory")]
    NotInInventory {
        /// The scenario's host name.
        host: String,
    },
    /// The inventory names no usable credential (password or key) for the host.
    #[error("{host}: no SSH credential in the inventory")]
    NoCredential {
        /// The host.
        host: String,
    },
    /// A credential could not be read from its source.
    #[error("{host}: {source}")]
    Secret {
        /// The host.
        host: String,
        /// Why (names the variable or file, never the value).
        source: SecretError,
    },
    /// The private key file could not be read or decoded.
    #[error("SSH key {}: {detail}", path.display())]
    KeyFile {
        /// The key file.
        path: PathBuf,
        /// What went wrong.
        detail: String,
    },
    /// The TCP connection was refused or failed.
    #[error("{host} ({addr}): cannot connect: {source}")]
    Connect {
        /// The host.
        host: String,
        /// Its address.
        addr: SocketAddr,
        /// The I/O error.
        source: std::io::Error,
    },
    /// Connecting, key exchange and authentication together took longer than
    /// [`SshLimits::connect_timeout_ms`].
    #[error("{host} ({addr}): SSH connect timed out after {after_ms} ms")]
    ConnectTimeout {
        /// The host.
        host: String,
        /// Its address.
        addr: SocketAddr,
        /// The limit that elapsed.
        after_ms: u64,
    },
    /// The server's host key is not listed for its address in the known_hosts file.
    #[error("{host} ({addr}): host key {fingerprint} is not in the known_hosts file")]
    HostKeyUnknown {
        /// The host.
        host: String,
        /// Its address.
        addr: SocketAddr,
        /// SHA-256 fingerprint of the key the server showed.
        fingerprint: String,
    },
    /// The server's host key differs from the recorded (or pinned) one.
    #[error("{host} ({addr}): host key changed to {fingerprint}")]
    HostKeyChanged {
        /// The host.
        host: String,
        /// Its address.
        addr: SocketAddr,
        /// SHA-256 fingerprint of the key the server showed.
        fingerprint: String,
    },
    /// The server refused every credential offered.
    #[error("{host}: authentication of user {user} refused")]
    AuthRejected {
        /// The host.
        host: String,
        /// The login user.
        user: String,
    },
    /// The SSH protocol failed (key exchange, channel, connection lost).
    #[error("{host}: SSH protocol error: {detail}")]
    Protocol {
        /// The host.
        host: String,
        /// The library's description.
        detail: String,
    },
    /// A command did not finish within its time limit (the remote process
    /// may still run; its channel was closed).
    #[error("{host}: command timed out after {after_ms} ms")]
    CommandTimeout {
        /// The host.
        host: String,
        /// The limit that elapsed.
        after_ms: u64,
    },
}

impl SshError {
    /// The host the error is about (empty for key-file errors).
    pub fn host(&self) -> &str {
        match self {
            SshError::NotInInventory { host }
            | SshError::NoCredential { host }
            | SshError::Secret { host, .. }
            | SshError::Connect { host, .. }
            | SshError::ConnectTimeout { host, .. }
            | SshError::HostKeyUnknown { host, .. }
            | SshError::HostKeyChanged { host, .. }
            | SshError::AuthRejected { host, .. }
            | SshError::Protocol { host, .. }
            | SshError::CommandTimeout { host, .. } => host,
            SshError::KeyFile { .. } => "",
        }
    }
}

impl From<SshError> for OpError {
    fn from(e: SshError) -> OpError {
        match &e {
            SshError::Connect { host, .. } => OpError::Unreachable {
                host: host.as_str().into(),
            },
            SshError::ConnectTimeout { host, after_ms, .. } => OpError::Timeout {
                op: format!("ssh connect to {host}").into(),
                after: Duration::from_millis(*after_ms),
            },
            SshError::CommandTimeout { host, after_ms } => OpError::Timeout {
                op: format!("command on {host}").into(),
                after: Duration::from_millis(*after_ms),
            },
            SshError::NotInInventory { host } => OpError::NotFound {
                what: format!("SSH host {host} in the inventory").into(),
            },
            SshError::AuthRejected { .. }
            | SshError::HostKeyUnknown { .. }
            | SshError::HostKeyChanged { .. } => OpError::Refused {
                reason: e.to_string().into(),
            },
            _ => OpError::Io {
                detail: e.to_string().into(),
            },
        }
    }
}

/// A fresh Ed25519 key pair from a 32-byte seed (read it from the OS's
/// random source): the OpenSSH private key text and the `ssh-ed25519 ...`
/// public line. Pure, so that a harness can make lab keys without tools.
pub fn ed25519_keypair(seed: &[u8; 32], comment: &str) -> Result<(Secret, String), SshError> {
    let bad = |e: russh::keys::ssh_key::Error| SshError::KeyFile {
        path: PathBuf::from("<generated>"),
        detail: e.to_string(),
    };
    let mut key = PrivateKey::from(Ed25519Keypair::from_seed(seed));
    key.set_comment(comment);
    let private = key.to_openssh(LineEnding::LF).map_err(bad)?;
    let public = key.public_key().to_openssh().map_err(bad)?;
    Ok((Secret::new(private.as_str()), public))
}

/// Keys pinned on first use, by address (shared by every connection of a pool).
type Pins = Arc<StdMutex<BTreeMap<SocketAddr, PublicKey>>>;

/// What the host-key check concluded, read after a failed handshake.
#[derive(Clone, Debug)]
enum KeyVerdict {
    Unknown(String),
    Changed(String),
}

/// russh callback: checks the server's host key.
struct Checker {
    addr: SocketAddr,
    policy: HostKeyPolicy,
    pins: Pins,
    verdict: Arc<StdMutex<Option<KeyVerdict>>>,
}

impl Checker {
    fn check(&self, key: &PublicKey) -> Result<(), KeyVerdict> {
        let fp = key.fingerprint(HashAlg::Sha256).to_string();
        match &self.policy {
            HostKeyPolicy::KnownHosts(path) => {
                // known_hosts lines for a non-standard port are written
                // `[addr]:port`; russh's parser handles both forms.
                match russh::keys::check_known_hosts_path(
                    &self.addr.ip().to_string(),
                    self.addr.port(),
                    key,
                    path,
                ) {
                    Ok(true) => Ok(()),
                    Ok(false) => Err(KeyVerdict::Unknown(fp)),
                    Err(russh::keys::Error::KeyChanged { .. }) => Err(KeyVerdict::Changed(fp)),
                    Err(_) => Err(KeyVerdict::Unknown(fp)),
                }
            }
            HostKeyPolicy::PinOnFirstUse => {
                let mut pins = self.pins.lock().unwrap_or_else(|p| p.into_inner());
                match pins.get(&self.addr) {
                    Some(k) if k == key => Ok(()),
                    Some(_) => Err(KeyVerdict::Changed(fp)),
                    None => {
                        pins.insert(self.addr, key.clone());
                        Ok(())
                    }
                }
            }
        }
    }
}

impl client::Handler for Checker {
    type Error = russh::Error;

    async fn check_server_key(
        &mut self,
        server_public_key: &PublicKeyOrCertificate,
    ) -> Result<bool, Self::Error> {
        let key = match server_public_key {
            PublicKeyOrCertificate::PublicKey { key, .. } => key.clone(),
            PublicKeyOrCertificate::Certificate(c) => c.public_key().clone().into(),
        };
        match self.check(&key) {
            Ok(()) => Ok(true),
            Err(v) => {
                *self.verdict.lock().unwrap_or_else(|p| p.into_inner()) = Some(v);
                Ok(false)
            }
        }
    }
}

/// One connection slot per host; the inner lock serialises (re)connecting.
type Slot = Arc<Mutex<Option<Arc<Handle<Checker>>>>>;

/// SSH connections to the lab's hosts, reused per host (and address, port
/// and user) for every command.
pub struct SshPool {
    limits: SshLimits,
    slots: StdMutex<BTreeMap<(String, SocketAddr, String), Slot>>,
    pins: Pins,
}

impl std::fmt::Debug for SshPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SshPool")
            .field("limits", &self.limits)
            .finish_non_exhaustive()
    }
}

impl SshPool {
    /// An empty pool.
    pub fn new(limits: SshLimits) -> SshPool {
        SshPool {
            limits,
            slots: StdMutex::new(BTreeMap::new()),
            pins: Arc::new(StdMutex::new(BTreeMap::new())),
        }
    }

    /// The limits in force.
    pub fn limits(&self) -> SshLimits {
        self.limits
    }

    /// Runs `command` on `target` (through the user's login shell, as ssh
    /// does) with an empty stdin, and waits at most `timeout` for it.
    pub async fn exec(
        &self,
        target: &SshTarget,
        command: &str,
        timeout: Duration,
    ) -> Result<Output, SshError> {
        self.exec_with_stdin(target, command, &[], timeout).await
    }

    /// As [`SshPool::exec`], writing `stdin` to the command's standard input
    /// and then closing it. Secrets a command needs travel this way, never on
    /// the command line.
    pub async fn exec_with_stdin(
        &self,
        target: &SshTarget,
        command: &str,
        stdin: &[u8],
        timeout: Duration,
    ) -> Result<Output, SshError> {
        // A connection cached from before the host restarted fails when a
        // channel is opened on it: reconnect once, then give up.
        const CONNECT_ATTEMPTS_MAX: u32 = 2;
        let slot = self.slot(target);
        let mut attempt = 0;
        loop {
            attempt += 1;
            let handle = self.connection(target, &slot).await?;
            // On a live connection a channel opens in milliseconds; a peer
            // that died without a word (a killed container) never answers,
            // so the open is bounded like a connect and the connection dropped.
            let open_limit = Duration::from_millis(self.limits.connect_timeout_ms);
            let opened = match tokio::time::timeout(open_limit, handle.channel_open_session()).await
            {
                Ok(r) => r.map_err(|e| e.to_string()),
                Err(_) => Err(format!(
                    "no answer to a channel open within {} ms",
                    self.limits.connect_timeout_ms
                )),
            };
            match opened {
                Ok(channel) => {
                    let run = run_channel(channel, command, stdin, self.limits.output_max_bytes);
                    return match tokio::time::timeout(timeout, run).await {
                        Ok(r) => r.map_err(|e| SshError::Protocol {
                            host: target.host.clone(),
                            detail: e.to_string(),
                        }),
                        Err(_) => Err(SshError::CommandTimeout {
                            host: target.host.clone(),
                            after_ms: millis(timeout),
                        }),
                    };
                }
                Err(detail) => {
                    *slot.lock().await = None;
                    if attempt >= CONNECT_ATTEMPTS_MAX {
                        return Err(SshError::Protocol {
                            host: target.host.clone(),
                            detail,
                        });
                    }
                }
            }
        }
    }

    /// Closes and forgets the connection to `target`, if any (the next
    /// command connects again).
    pub async fn disconnect(&self, target: &SshTarget) {
        let slot = self.slot(target);
        let taken = slot.lock().await.take();
        if let Some(h) = taken {
            let _ = h.disconnect(Disconnect::ByApplication, "", "en").await;
        }
    }

    /// Number of hosts with an open connection (for tests of reuse).
    pub async fn open_connections(&self) -> usize {
        let slots: Vec<Slot> = self
            .slots
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .values()
            .cloned()
            .collect();
        let mut n = 0;
        for s in slots {
            if s.lock().await.as_ref().is_some_and(|h| !h.is_closed()) {
                n += 1;
            }
        }
        n
    }

    fn slot(&self, target: &SshTarget) -> Slot {
        let key = (target.host.clone(), target.addr, target.user.clone());
        self.slots
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry(key)
            .or_default()
            .clone()
    }

    async fn connection(
        &self,
        target: &SshTarget,
        slot: &Slot,
    ) -> Result<Arc<Handle<Checker>>, SshError> {
        let mut guard = slot.lock().await;
        if let Some(h) = guard.as_ref()
            && !h.is_closed()
        {
            return Ok(h.clone());
        }
        let limit = Duration::from_millis(self.limits.connect_timeout_ms);
        let handle = match tokio::time::timeout(limit, self.connect(target)).await {
            Ok(r) => Arc::new(r?),
            Err(_) => {
                return Err(SshError::ConnectTimeout {
                    host: target.host.clone(),
                    addr: target.addr,
                    after_ms: self.limits.connect_timeout_ms,
                });
            }
        };
        *guard = Some(handle.clone());
        Ok(handle)
    }

    async fn connect(&self, target: &SshTarget) -> Result<Handle<Checker>, SshError> {
        let host = || target.host.clone();
        let config = Arc::new(client::Config {
            keepalive_interval: Some(Duration::from_millis(self.limits.keepalive_interval_ms)),
            keepalive_max: 3,
            nodelay: true,
            ..Default::default()
        });
        let verdict = Arc::new(StdMutex::new(None));
        let checker = Checker {
            addr: target.addr,
            policy: target.host_keys.clone(),
            pins: self.pins.clone(),
            verdict: verdict.clone(),
        };
        let socket = tokio::net::TcpStream::connect(target.addr)
            .await
            .map_err(|source| SshError::Connect {
                host: host(),
                addr: target.addr,
                source,
            })?;
        let _ = socket.set_nodelay(true);
        let mut handle = match client::connect_stream(config, socket, checker).await {
            Ok(h) => h,
            Err(e) => {
                let v = verdict.lock().unwrap_or_else(|p| p.into_inner()).clone();
                return Err(match v {
                    Some(KeyVerdict::Unknown(fingerprint)) => SshError::HostKeyUnknown {
                        host: host(),
                        addr: target.addr,
                        fingerprint,
                    },
                    Some(KeyVerdict::Changed(fingerprint)) => SshError::HostKeyChanged {
                        host: host(),
                        addr: target.addr,
                        fingerprint,
                    },
                    None => SshError::Protocol {
                        host: host(),
                        detail: e.to_string(),
                    },
                });
            }
        };
        let proto = |e: russh::Error| SshError::Protocol {
            host: host(),
            detail: e.to_string(),
        };
        let (key, password) = match &target.auth {
            SshAuth::Password(p) => (None, Some(p)),
            SshAuth::KeyFile(k) => (Some(k), None),
            SshAuth::KeyThenPassword(k, p) => (Some(k), Some(p)),
        };
        if let Some(path) = key {
            let key = load_key(path)?;
            let hash = if key.algorithm().is_rsa() {
                handle
                    .best_supported_rsa_hash()
                    .await
                    .map_err(proto)?
                    .flatten()
            } else {
                None
            };
            let r = handle
                .authenticate_publickey(
                    target.user.clone(),
                    PrivateKeyWithHashAlg::new(Arc::new(key), hash),
                )
                .await
                .map_err(proto)?;
            if matches!(r, AuthResult::Success) {
                return Ok(handle);
            }
        }
        if let Some(pw) = password {
            let r = handle
                .authenticate_password(target.user.clone(), pw.expose())
                .await
                .map_err(proto)?;
            if matches!(r, AuthResult::Success) {
                return Ok(handle);
            }
        }
        Err(SshError::AuthRejected {
            host: host(),
            user: target.user.clone(),
        })
    }
}

fn load_key(path: &Path) -> Result<PrivateKey, SshError> {
    russh::keys::load_secret_key(path, None).map_err(|e| SshError::KeyFile {
        path: path.to_path_buf(),
        detail: e.to_string(),
    })
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

async fn run_channel(
    mut channel: russh::Channel<client::Msg>,
    command: &str,
    stdin: &[u8],
    output_max_bytes: usize,
) -> Result<Output, russh::Error> {
    channel.exec(true, command).await?;
    if !stdin.is_empty() {
        channel.data(stdin).await?;
    }
    channel.eof().await?;
    let mut stdout = Vec::new();
    let mut stderr = Vec::new();
    let mut out = Output::default();
    let keep = |buf: &mut Vec<u8>, data: &[u8], truncated: &mut bool| {
        let room = output_max_bytes.saturating_sub(buf.len());
        if data.len() > room {
            *truncated = true;
        }
        buf.extend_from_slice(&data[..data.len().min(room)]);
    };
    while let Some(msg) = channel.wait().await {
        match msg {
            ChannelMsg::Data { data } => keep(&mut stdout, &data, &mut out.truncated),
            ChannelMsg::ExtendedData { data, ext: 1 } => {
                keep(&mut stderr, &data, &mut out.truncated)
            }
            ChannelMsg::ExitStatus { exit_status } => out.exit_status = Some(exit_status),
            ChannelMsg::ExitSignal { signal_name, .. } => {
                out.exit_signal = Some(format!("{signal_name:?}"))
            }
            ChannelMsg::Close => break,
            _ => {}
        }
    }
    out.stdout = String::from_utf8_lossy(&stdout).into_owned();
    out.stderr = String::from_utf8_lossy(&stderr).into_owned();
    Ok(out)
}

/// Quotes `s` as one POSIX shell word (single quotes; an embedded `'`
/// becomes `'\''`). Every variable part of a command line goes through it.
pub fn sh_quote(s: &str) -> String {
    if !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"@%+=:,./_-".contains(&b))
    {
        return s.to_string();
    }
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// Whether `addr` parses as an IP address (commands take addresses, never
/// names, so that they reach exactly the inventory's hosts).
pub fn is_ip(addr: &str) -> bool {
    addr.parse::<IpAddr>().is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shell_quoting() {
        assert_eq!(sh_quote("postfix"), "postfix");
        assert_eq!(sh_quote("/srv/mail/"), "/srv/mail/");
        assert_eq!(sh_quote(""), "''");
        assert_eq!(sh_quote("a b"), "'a b'");
        assert_eq!(sh_quote("it's"), r"'it'\''s'");
        assert_eq!(sh_quote("$(rm -rf /)"), "'$(rm -rf /)'");
    }

    #[test]
    fn generated_keys_are_openssh_and_deterministic_per_seed() {
        let (private, public) = ed25519_keypair(&[7; 32], "drlab-test").unwrap();
        assert!(
            private
                .expose()
                .starts_with("-----BEGIN OPENSSH PRIVATE KEY-----")
        );
        assert!(public.starts_with("ssh-ed25519 AAAA"), "{public}");
        assert!(public.ends_with(" drlab-test"), "{public}");
        assert_eq!(format!("{private:?}"), "[redacted]");
        let (_, again) = ed25519_keypair(&[7; 32], "drlab-test").unwrap();
        assert_eq!(public, again);
    }

    #[test]
    fn errors_map_to_op_errors() {
        let e: OpError = SshError::CommandTimeout {
            host: "EXCH1".into(),
            after_ms: 1500,
        }
        .into();
        assert!(matches!(e, OpError::Timeout { .. }), "{e}");
        let e: OpError = SshError::Connect {
            host: "EXCH1".into(),
            addr: "10.0.0.1:22".parse().unwrap(),
            source: std::io::Error::from(std::io::ErrorKind::ConnectionRefused),
        }
        .into();
        assert_eq!(e.to_string(), "EXCH1 is unreachable");
    }
}
