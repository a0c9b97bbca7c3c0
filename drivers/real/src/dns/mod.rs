//! DNS the way drlab's drills need it: queries (A, PTR, MX, CNAME) over UDP
//! with TCP fallback, RFC 2136 dynamic updates with optional TSIG
//! (RFC 8945), a client resolver with its own TTL cache (so propagation is
//! measured as users see it), and `samba-tool dns` command builders for
//! servers that only take updates from their own tool.
//!
//! Pure message builders and parsers are in [`message`] and [`update`]
//! (encoding and decoding by `hickory-proto`); sockets are in [`client`]; the
//! cache is in [`resolver`]; command lines in [`samba_tool`].
//!
//! How updates reach the lab's Samba DC: Samba's internal DNS server takes
//! RFC 2136 updates only as its `allow dns updates` option allows. The
//! default, `secure only`, wants GSS-TSIG (Kerberos) signatures, which
//! hickory does not implement, and refuses an unsigned update with REFUSED.
//! The lab's `dc` role therefore sets `allow dns updates = nonsecure`
//! (`DC_DNS_UPDATES`, see `lab/images/rootfs/usr/local/sbin/drlab-entry`):
//! anyone who can reach the DC on the lab network may then change its zones.
//! That is acceptable for a throw-away lab on a private container network
//! and is what Windows calls "Nonsecure and secure" dynamic updates, but it
//! is weaker than a production AD zone. For production-like DCs (secure
//! only), [`samba_tool`] builds the `samba-tool dns add/delete` commands to
//! run on the DC over SSH instead, with the password on standard input.

pub mod client;
pub mod message;
pub mod resolver;
pub mod samba_tool;
pub mod update;

use std::net::SocketAddr;
use std::time::Duration;

use drlab_drivers::OpError;

pub use client::{DnsLimits, Rfc2136Client, Rfc2136Via, find_zone, query, query_records};
pub use message::{QueryResponse, normalise, reverse_name};
pub use resolver::{CachePolicy, Resolution, Resolver, TtlCache};
pub use samba_tool::ToolCommand;
pub use update::{AddPrereq, TsigAlgorithm, TsigKey};

/// Why a DNS operation failed. Never contains key material or passwords.
#[derive(Debug, thiserror::Error)]
pub enum DnsError {
    /// A name is not a valid domain name.
    #[error("invalid DNS name {name:?}: {detail}")]
    InvalidName {
        /// The name as given.
        name: String,
        /// What is wrong.
        detail: String,
    },
    /// Record data does not fit its type (e.g. an A record with a host name).
    #[error("invalid {rtype} record data {data:?}: {detail}")]
    InvalidData {
        /// The record type.
        rtype: &'static str,
        /// The data as given.
        data: String,
        /// What is wrong.
        detail: String,
    },
    /// A record name lies outside the zone the update is for.
    #[error("{name} is not in zone {zone}")]
    NotInZone {
        /// The record's name.
        name: String,
        /// The zone.
        zone: String,
    },
    /// A TSIG key could not be parsed or used (the key itself is never shown).
    #[error("TSIG key: {detail}")]
    BadKey {
        /// What is wrong.
        detail: String,
    },
    /// A message could not be encoded.
    #[error("cannot encode DNS message: {detail}")]
    Encode {
        /// The encoder's error.
        detail: String,
    },
    /// A response could not be decoded or does not answer the request.
    #[error("bad DNS response from {server}: {detail}")]
    BadResponse {
        /// The server.
        server: SocketAddr,
        /// What is wrong.
        detail: String,
    },
    /// A socket error.
    #[error("DNS I/O with {server}: {source}")]
    Io {
        /// The server.
        server: SocketAddr,
        /// The socket error.
        source: std::io::Error,
    },
    /// No answer within the limit (all UDP attempts, or the TCP exchange).
    #[error("DNS {what} to {server} timed out after {after_ms} ms")]
    Timeout {
        /// What was asked (`query x A`, `update`).
        what: String,
        /// The server.
        server: SocketAddr,
        /// The limit that elapsed.
        after_ms: u64,
    },
    /// The server refused the request: REFUSED (policy, e.g. Samba's
    /// `allow dns updates = secure only`) or NOTAUTH (RFC 8945 §5.2: a TSIG
    /// that did not verify, with its TSIG error: BADSIG, BADKEY, BADTIME).
    #[error("DNS server {server} refused the {what}: {rcode}{}", tsig_error.as_ref().map(|t| format!(" (TSIG error {t})")).unwrap_or_default())]
    Refused {
        /// What was asked.
        what: String,
        /// The server.
        server: SocketAddr,
        /// The response code (`REFUSED`, `NOTAUTH`).
        rcode: String,
        /// The TSIG error field of the response, if any.
        tsig_error: Option<String>,
    },
    /// An RFC 2136 prerequisite did not hold (§3.2.1): YXDOMAIN, YXRRSET,
    /// NXDOMAIN or NXRRSET.
    #[error("DNS update prerequisite failed at {server}: {rcode}")]
    Prerequisite {
        /// The server.
        server: SocketAddr,
        /// The response code.
        rcode: String,
    },
    /// Any other error response code (SERVFAIL, FORMERR, NOTIMP, NOTZONE...).
    #[error("DNS server {server} answered the {what} with {rcode}")]
    Rcode {
        /// What was asked.
        what: String,
        /// The server.
        server: SocketAddr,
        /// The response code.
        rcode: String,
    },
    /// The response to a signed request was not signed correctly by the
    /// server (RFC 8945 §5.3: the client must verify it).
    #[error("TSIG verification of the response from {server} failed: {detail}")]
    ResponseNotAuthenticated {
        /// The server.
        server: SocketAddr,
        /// What failed.
        detail: String,
    },
}

impl DnsError {
    /// Whether the server answered REFUSED (RFC 2136 §3.3: its policy does
    /// not let this requestor, or key, change the zone), not NOTAUTH (a
    /// TSIG it could not verify) or any other failure.
    pub fn is_policy_refusal(&self) -> bool {
        matches!(self, DnsError::Refused { rcode, .. } if rcode == "REFUSED")
    }
}

impl From<DnsError> for OpError {
    fn from(e: DnsError) -> OpError {
        match &e {
            DnsError::Refused { .. } => OpError::refused(e.to_string()),
            DnsError::Timeout { what, after_ms, .. } => {
                OpError::timeout(format!("DNS {what}"), Duration::from_millis(*after_ms))
            }
            DnsError::Io { server, source }
                if source.kind() == std::io::ErrorKind::ConnectionRefused =>
            {
                OpError::unreachable(server.to_string())
            }
            DnsError::Prerequisite { .. } => OpError::invalid_state(e.to_string()),
            DnsError::InvalidName { .. }
            | DnsError::InvalidData { .. }
            | DnsError::NotInZone { .. }
            | DnsError::BadKey { .. } => OpError::invalid_state(e.to_string()),
            _ => OpError::Io {
                detail: e.to_string().into(),
            },
        }
    }
}

/// A random 16-bit message ID (RFC 5452 §4.3 wants IDs unpredictable). The
/// standard library's per-process random hash keys are the entropy source:
/// enough against off-path guessing in a lab, without another dependency.
pub(crate) fn fresh_id() -> u16 {
    use std::hash::{BuildHasher, Hasher};
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
    (h.finish() & 0xffff) as u16
}
