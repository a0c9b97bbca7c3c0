//! IMAP read-back of drlab's workload (a subset of RFC 3501, also valid
//! under IMAP4rev2, RFC 9051): LOGIN, SELECT, a FETCH of the
//! `X-Drlab-Seq` header field of every message, LOGOUT; and the end-user
//! probe (SMTP submission plus IMAP login and SELECT, through the service
//! *name* as a client resolver sees it) that decides when users are served
//! again (RTO, design §2.2).
//!
//! The dialogue is async-imap's (its command encoding and imap-proto's
//! response parser); drlab keeps the transport ([`Net`]), a time limit and
//! a byte budget on the greeting and on every command, with the stage
//! that overran ([`crate::exchange`]: async-imap has neither, and would
//! buffer a response up to 512 MiB), a bound on the messages one FETCH
//! returns, and the server's words in its errors with the password
//! redacted. async-imap sends LOGIN's arguments as quoted strings and
//! refuses CR and LF in them: a password holding either cannot log in.
//!
//! Read-back asks for `UID FETCH 1:* (UID BODY.PEEK[HEADER.FIELDS
//! (X-Drlab-Seq)])`: one response per message carrying only that header
//! line (a few dozen bytes), so thousands of messages of any size come
//! back in one round trip; `PEEK` leaves the `\Seen` flags alone (RFC 3501
//! §6.4.5).
//!
//! Connections come from a [`Net`] (see [`crate::net`]): [`ImapSession`] is
//! generic over it with the real network ([`TokioNet`]) as the default; a
//! probe uses its resolver's transport for SMTP and IMAP too.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use async_imap::imap_proto::{
    AttributeValue, MailboxDatum, MessageSection, Outcome, Response, ResponseCode, SectionPath,
    Status,
};
use drlab_drivers::{OpError, SeqSet};

use crate::dns::{DnsError, Resolver};
use crate::exchange::{Exchange, Meter, Metered, Verdict};
use crate::net::{Net, TokioNet};
use crate::secret::Secret;
use crate::smtp::{
    self, ConnectFail, SEQ_HEADER, SmtpError, SmtpLimits, build_probe_message, connect_tcp,
    unix_now_s,
};

// ------------------------------------------------------------------ errors

/// Why an IMAP operation failed. Never contains the password.
#[derive(Debug, thiserror::Error)]
pub enum ImapError {
    /// The TCP connection could not be opened.
    #[error("cannot connect to IMAP server {addr}: {source}")]
    Connect {
        /// The server.
        addr: SocketAddr,
        /// The socket error.
        source: std::io::Error,
    },
    /// Connecting or a command took longer than its limit.
    #[error("IMAP {stage} timed out after {after_ms} ms")]
    Timeout {
        /// `connect`, `greeting`, `LOGIN`, `SELECT`, `FETCH`, `LOGOUT`.
        stage: &'static str,
        /// The limit that elapsed.
        after_ms: u64,
    },
    /// A socket error.
    #[error("IMAP {stage}: {source}")]
    Io {
        /// The stage.
        stage: &'static str,
        /// The socket error.
        source: std::io::Error,
    },
    /// The server closed the connection.
    #[error("IMAP server closed the connection during {stage}")]
    Closed {
        /// The stage.
        stage: &'static str,
    },
    /// The server said BYE (RFC 3501 §7.1.5) where the command did not expect it.
    #[error("IMAP server said BYE during {stage}: {text}")]
    Bye {
        /// The stage.
        stage: &'static str,
        /// The server's text.
        text: String,
    },
    /// The command failed (`NO`), e.g. a wrong password or a missing mailbox.
    #[error("IMAP {stage} failed: {text}")]
    No {
        /// The stage.
        stage: &'static str,
        /// The server's text (credentials redacted).
        text: String,
    },
    /// The server did not understand the command (`BAD`).
    #[error("IMAP {stage} rejected as BAD: {text}")]
    Bad {
        /// The stage.
        stage: &'static str,
        /// The server's text (credentials redacted).
        text: String,
    },
    /// The server's response is not well-formed IMAP.
    #[error("IMAP {stage}: malformed response: {detail}")]
    Protocol {
        /// The stage.
        stage: &'static str,
        /// What is wrong.
        detail: String,
    },
    /// A response exceeded a limit (line, literal or count).
    #[error("IMAP {stage}: {what} exceeds the limit of {limit}")]
    Limit {
        /// The stage.
        stage: &'static str,
        /// Which limit.
        what: &'static str,
        /// Its value.
        limit: u64,
    },
    /// The caller's input cannot be sent (NUL, non-ASCII mailbox name).
    #[error("invalid IMAP input: {detail}")]
    InvalidInput {
        /// What is wrong.
        detail: String,
    },
}

impl From<ImapError> for OpError {
    fn from(e: ImapError) -> OpError {
        match &e {
            ImapError::Connect { addr, source }
                if source.kind() == std::io::ErrorKind::ConnectionRefused =>
            {
                OpError::refused(format!("IMAP {addr}: connection refused"))
            }
            ImapError::Connect { addr, .. } => OpError::unreachable(addr.to_string()),
            ImapError::Timeout { stage, after_ms } => {
                OpError::timeout(format!("IMAP {stage}"), Duration::from_millis(*after_ms))
            }
            ImapError::No { .. } | ImapError::Bye { .. } => OpError::refused(e.to_string()),
            ImapError::InvalidInput { .. } => OpError::invalid_state(e.to_string()),
            _ => OpError::Io {
                detail: e.to_string().into(),
            },
        }
    }
}

// ------------------------------------------------------------------ I/O

/// Limits of an IMAP session.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ImapLimits {
    /// Limit on opening the TCP connection.
    pub connect_timeout_ms: u64,
    /// Limit on the greeting and on each command (sending it and reading
    /// every response up to its completion).
    pub exchange_timeout_ms: u64,
    /// Limit on the read-back FETCH, which returns one response per message.
    pub fetch_timeout_ms: u64,
    /// Most bytes the responses to the greeting or one command may take
    /// (a SELECT answers with a few hundred).
    pub exchange_bytes_max: u64,
    /// Most bytes the read-back FETCH's responses may take (one header
    /// field per message: about 60 bytes each).
    pub fetch_bytes_max: u64,
    /// Most messages the read-back FETCH may return.
    pub responses_max: usize,
}

impl Default for ImapLimits {
    fn default() -> ImapLimits {
        ImapLimits {
            connect_timeout_ms: 3_000,
            exchange_timeout_ms: 10_000,
            fetch_timeout_ms: 60_000,
            exchange_bytes_max: 1024 * 1024,
            fetch_bytes_max: 256 * 1024 * 1024,
            responses_max: 1_000_000,
        }
    }
}

/// What SELECT reported (RFC 3501 §6.3.1).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Selected {
    /// Number of messages (`* n EXISTS`).
    pub exists: u32,
    /// `[UIDVALIDITY n]`.
    pub uid_validity: Option<u32>,
}

/// The stream async-imap speaks over.
type Stream<N> = Metered<<N as Net>::Tcp>;

/// Where the dialogue is: async-imap's client before LOGIN, its session
/// after (LOGIN consumes the one and yields the other).
enum Phase<N: Net> {
    Client(async_imap::Client<Stream<N>>),
    Session(async_imap::Session<Stream<N>>),
}

/// An open IMAP connection: async-imap over a [`Metered`] stream from a
/// [`Net`].
pub struct ImapSession<N: Net = TokioNet> {
    /// `None` only while LOGIN runs (and after a LOGIN that lost the
    /// connection).
    phase: Option<Phase<N>>,
    meter: Meter,
    limits: ImapLimits,
    /// Text of the server's greeting.
    pub greeting: String,
}

impl ImapSession {
    /// Connects and reads the greeting (`* OK`; `* BYE` is a refusal, RFC
    /// 3501 §7.1.5; `* PREAUTH` is refused too: drlab logs in).
    pub async fn connect(addr: SocketAddr, limits: ImapLimits) -> Result<ImapSession, ImapError> {
        ImapSession::connect_via(&TokioNet, addr, limits).await
    }
}

impl<N: Net> ImapSession<N> {
    /// [`ImapSession::connect`] over the transport `net`.
    pub async fn connect_via(
        net: &N,
        addr: SocketAddr,
        limits: ImapLimits,
    ) -> Result<ImapSession<N>, ImapError> {
        let stream = connect_tcp(net, addr, limits.connect_timeout_ms)
            .await
            .map_err(|e| match e {
                ConnectFail::Io(source) => ImapError::Connect { addr, source },
                ConnectFail::Timeout => ImapError::Timeout {
                    stage: "connect",
                    after_ms: limits.connect_timeout_ms,
                },
            })?;
        let stage = "greeting";
        let (stream, meter) = Metered::new(stream, addr, exchange(stage, &limits));
        let mut client = async_imap::Client::new(stream);
        let greeting = match client.read_response().await {
            Ok(Some(r)) => r,
            Ok(None) => return Err(ImapError::Closed { stage }),
            Err(e) => return Err(imap_error(&meter, async_imap::error::Error::Io(e), None)),
        };
        let Response::Data { status, outcome } = greeting.parsed() else {
            return Err(ImapError::Protocol {
                stage,
                detail: format!("unexpected greeting {:?}", greeting.parsed()),
            });
        };
        let text = outcome.information.as_deref().unwrap_or("").to_string();
        match status {
            // PREAUTH would need a session without LOGIN, which
            // async-imap cannot make: refused by name rather than
            // answered BAD at LOGIN
            Status::PreAuth => Err(ImapError::Protocol {
                stage,
                detail: format!(
                    "the server pre-authenticated the connection ({text}); drlab logs in"
                ),
            }),
            Status::Ok => Ok(ImapSession {
                phase: Some(Phase::Client(client)),
                meter,
                limits,
                greeting: text,
            }),
            Status::Bye => Err(ImapError::Bye { stage, text }),
            Status::No | Status::Bad => Err(ImapError::Protocol {
                stage,
                detail: format!("unexpected greeting {status:?} {text}"),
            }),
        }
    }

    /// `LOGIN user password` (RFC 3501 §6.2.3), as quoted strings
    /// (async-imap's encoding; CR and LF are refused). The password appears
    /// in no error: server texts are redacted. After a refusal the session
    /// is still connected (e.g. to LOGOUT).
    pub async fn login(&mut self, user: &str, password: &Secret) -> Result<(), ImapError> {
        let stage = "LOGIN";
        let client = match self.phase.take() {
            Some(Phase::Client(c)) => c,
            other => {
                self.phase = other;
                return Err(ImapError::InvalidInput {
                    detail: "LOGIN on a session that is not awaiting it".into(),
                });
            }
        };
        self.meter.arm(&[exchange(stage, &self.limits)]);
        match client.login(user, password.expose()).await {
            Ok(session) => {
                self.phase = Some(Phase::Session(session));
                Ok(())
            }
            Err((e, client)) => {
                self.phase = Some(Phase::Client(client));
                Err(imap_error(&self.meter, e, Some(password)))
            }
        }
    }

    fn session(
        &mut self,
        stage: &'static str,
    ) -> Result<&mut async_imap::Session<Stream<N>>, ImapError> {
        match &mut self.phase {
            Some(Phase::Session(s)) => Ok(s),
            _ => Err(ImapError::InvalidInput {
                detail: format!("{stage} before a successful LOGIN"),
            }),
        }
    }

    /// `SELECT mailbox` (RFC 3501 §6.3.1).
    pub async fn select(&mut self, mailbox: &str) -> Result<Selected, ImapError> {
        let stage = "SELECT";
        check_mailbox_name(mailbox)?;
        let mut sel = Selected::default();
        let e = exchange(stage, &self.limits);
        self.command(e, &format!("SELECT {}", quoted(mailbox)), |r| {
            match r {
                Response::MailboxData(MailboxDatum::Exists(n)) => sel.exists = *n,
                Response::Data {
                    status: Status::Ok,
                    outcome:
                        Outcome {
                            code: Some(ResponseCode::UidValidity(v)),
                            ..
                        },
                } => sel.uid_validity = Some(*v),
                _ => {}
            }
            Ok(())
        })
        .await?;
        Ok(sel)
    }

    /// The workload sequence numbers of the selected mailbox's messages
    /// (messages without a valid `X-Drlab-Seq` are ignored): one
    /// [`seq_fetch_query`] over `1:*`, within the fetch limits.
    pub async fn seq_numbers(&mut self) -> Result<SeqSet, ImapError> {
        let stage = "FETCH";
        let limits = self.limits;
        let e = Exchange {
            stage,
            limit_ms: limits.fetch_timeout_ms,
            bytes_max: limits.fetch_bytes_max,
            literals: true,
        };
        let mut seqs = SeqSet::new();
        let mut responses = 0usize;
        let query = format!("UID FETCH 1:* {}", seq_fetch_query());
        self.command(e, &query, |r| {
            let Response::Fetch(_, attributes) = r else {
                return Ok(());
            };
            responses += 1;
            if responses > limits.responses_max {
                return Err(ImapError::Limit {
                    stage,
                    what: "the number of responses",
                    limit: limits.responses_max as u64,
                });
            }
            if let Some(seq) = fetched_header(attributes).and_then(smtp::parse_seq) {
                seqs.insert(seq);
            }
            Ok(())
        })
        .await?;
        Ok(seqs)
    }

    /// `LOGOUT` (RFC 3501 §6.1.3): BYE, then the tagged OK.
    pub async fn logout(mut self) -> Result<(), ImapError> {
        let stage = "LOGOUT";
        let e = exchange(stage, &self.limits);
        if let Some(Phase::Client(c)) = &mut self.phase {
            self.meter.arm(&[e]);
            return c
                .run_command_and_check_ok("LOGOUT", None)
                .await
                .map_err(|err| imap_error(&self.meter, err, None));
        }
        self.command(e, "LOGOUT", |_| Ok(())).await
    }

    /// Runs `command` on the logged-in session as exchange `e`: hands every
    /// response before the command's tagged completion to `untagged`, and
    /// returns once that completion says OK. A completion that never comes
    /// (the connection closed, an untagged BYE) is an error, never the
    /// end of the answer: async-imap's own SELECT and FETCH end at the end
    /// of the stream, and its FETCH ignores a tagged NO, so drlab reads the
    /// responses itself (async-imap still frames and parses them).
    async fn command(
        &mut self,
        e: Exchange,
        command: &str,
        mut untagged: impl FnMut(&Response<'_>) -> Result<(), ImapError>,
    ) -> Result<(), ImapError> {
        let stage = e.stage;
        let meter = self.meter.clone();
        let s = self.session(stage)?;
        meter.arm(&[e]);
        let tag = s
            .run_command(command)
            .await
            .map_err(|err| imap_error(&meter, err, None))?;
        loop {
            let response = match s.read_response().await {
                Ok(Some(r)) => r,
                Ok(None) => return Err(ImapError::Closed { stage }),
                Err(err) => {
                    return Err(imap_error(&meter, async_imap::error::Error::Io(err), None));
                }
            };
            match response.parsed() {
                Response::Done {
                    tag: done,
                    status,
                    outcome,
                } if *done == tag => return completion(stage, status, outcome),
                Response::Data {
                    status: Status::Bye,
                    outcome,
                } if stage != "LOGOUT" => {
                    return Err(ImapError::Bye {
                        stage,
                        text: words(outcome),
                    });
                }
                other => untagged(other)?,
            }
        }
    }
}

/// The header fields a FETCH response carries (`BODY[HEADER.FIELDS (..)]`
/// parses as the header section).
fn fetched_header<'a>(attributes: &'a [AttributeValue<'_>]) -> Option<&'a [u8]> {
    attributes.iter().find_map(|a| match a {
        AttributeValue::BodySection {
            section: Some(SectionPath::Full(MessageSection::Header)),
            data: Some(data),
            ..
        } => Some(&**data),
        _ => None,
    })
}

/// The text of a status response (RFC 3501 §7.1), its code in brackets.
fn words(o: &Outcome<'_>) -> String {
    let text = o.information.as_deref().unwrap_or("");
    match &o.code {
        Some(code) => format!("[{code:?}] {text}"),
        None => text.to_string(),
    }
}

/// A command's tagged completion: OK, or the server's NO or BAD.
fn completion(stage: &'static str, status: &Status, o: &Outcome<'_>) -> Result<(), ImapError> {
    match status {
        Status::Ok => Ok(()),
        Status::No => Err(ImapError::No {
            stage,
            text: words(o),
        }),
        Status::Bad => Err(ImapError::Bad {
            stage,
            text: words(o),
        }),
        other => Err(ImapError::Protocol {
            stage,
            detail: format!("a tagged {other:?} completion"),
        }),
    }
}

/// An IMAP quoted string (RFC 3501 §4.3) of printable ASCII.
fn quoted(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

/// The read-back's FETCH items (see the module documentation).
pub fn seq_fetch_query() -> String {
    format!("(UID BODY.PEEK[HEADER.FIELDS ({SEQ_HEADER})])")
}

/// An IMAP exchange within the session's limits.
fn exchange(stage: &'static str, limits: &ImapLimits) -> Exchange {
    Exchange {
        stage,
        limit_ms: limits.exchange_timeout_ms,
        bytes_max: limits.exchange_bytes_max,
        literals: true,
    }
}

/// A mailbox name drlab selects: printable ASCII (sent quoted; other
/// names would need RFC 3501 §5.1.3's modified UTF-7).
fn check_mailbox_name(name: &str) -> Result<(), ImapError> {
    if !name.is_empty() && name.bytes().all(|c| (b' '..=b'~').contains(&c)) {
        Ok(())
    } else {
        Err(ImapError::InvalidInput {
            detail: format!("mailbox name {name:?} is not printable ASCII"),
        })
    }
}

/// drlab's error for a failed async-imap call: what the stream saw first
/// (a deadline, a close, a socket error, an oversized response), else the
/// server's NO or BAD (its text with `secret` redacted), else the crate's
/// parse or input error.
fn imap_error(meter: &Meter, e: async_imap::error::Error, secret: Option<&Secret>) -> ImapError {
    use async_imap::error::Error as E;
    let redact = |t: String| redact(&t, secret);
    match meter.verdict() {
        Verdict::TimedOut { stage, after_ms } => ImapError::Timeout { stage, after_ms },
        Verdict::Closed { stage } => ImapError::Closed { stage },
        Verdict::Io { stage, kind, text } => ImapError::Io {
            stage,
            source: std::io::Error::new(kind, redact(text)),
        },
        Verdict::OverBudget { stage, bytes_max } => ImapError::Limit {
            stage,
            what: "the bytes of its responses",
            limit: bytes_max,
        },
        Verdict::Clean { stage } => match e {
            E::No(text) => ImapError::No {
                stage,
                text: server_words(&redact(text)),
            },
            E::Bad(text) => ImapError::Bad {
                stage,
                text: server_words(&redact(text)),
            },
            E::ConnectionLost => ImapError::Closed { stage },
            E::Io(source) => ImapError::Io {
                stage,
                source: std::io::Error::new(source.kind(), redact(source.to_string())),
            },
            E::Validate(v) => ImapError::InvalidInput {
                detail: format!("{stage}: {v}"),
            },
            other => ImapError::Protocol {
                stage,
                detail: redact(other.to_string()),
            },
        },
    }
}

/// `text` without `secret` in any spelling it may take there: as is, as
/// async-imap quotes it (`\\` and `"` escaped), and either of those in
/// Rust's debug formatting (async-imap's error texts are made of it).
fn redact(text: &str, secret: Option<&Secret>) -> String {
    let Some(raw) = secret.map(Secret::expose).filter(|s| !s.is_empty()) else {
        return text.to_string();
    };
    let quoted = raw.replace('\\', "\\\\").replace('"', "\\\"");
    let debug = |s: &str| {
        let d = format!("{s:?}");
        d[1..d.len() - 1].to_string()
    };
    let mut forms = [raw.to_string(), debug(raw), debug(&quoted), quoted];
    // the longest first, so that no shorter form leaves part of a longer one
    forms.sort_by_key(|f| std::cmp::Reverse(f.len()));
    let mut out = text.to_string();
    for f in forms.iter().filter(|f| !f.is_empty()) {
        out = out.replace(f.as_str(), "[redacted]");
    }
    out
}

/// The server's own words in an async-imap NO or BAD error: the crate
/// formats the completion with Rust's debug formatting, as `code: ..,
/// info: Some("words")` or `outcome: Outcome { code: .., information:
/// Some("words") }`; the words are the text after the status (RFC 3501
/// §7.1). Anything else is kept whole.
fn server_words(formatted: &str) -> String {
    let start = ["info: Some(\"", "information: Some(\""]
        .iter()
        .find_map(|m| formatted.find(m).map(|at| at + m.len()));
    let Some(start) = start else {
        return formatted.to_string();
    };
    let Some(len) = formatted[start..].rfind("\")") else {
        return formatted.to_string();
    };
    let mut out = String::with_capacity(len);
    let mut chars = formatted[start..start + len].chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            match chars.next() {
                Some('n') => out.push('\n'),
                Some('r') => out.push('\r'),
                Some('t') => out.push('\t'),
                Some(other) => out.push(other),
                None => {}
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// Reads back what a mailbox holds: connect, LOGIN, SELECT INBOX, FETCH
/// the sequence numbers, LOGOUT (a failed LOGOUT after a complete FETCH
/// does not discard the answer).
pub async fn read_back(
    addr: SocketAddr,
    user: &str,
    password: &Secret,
    limits: ImapLimits,
) -> Result<SeqSet, ImapError> {
    read_back_via(&TokioNet, addr, user, password, limits).await
}

/// [`read_back`] over the transport `net`.
pub async fn read_back_via<N: Net>(
    net: &N,
    addr: SocketAddr,
    user: &str,
    password: &Secret,
    limits: ImapLimits,
) -> Result<SeqSet, ImapError> {
    let mut s = ImapSession::connect_via(net, addr, limits).await?;
    s.login(user, password).await?;
    let sel = s.select("INBOX").await?;
    let seqs = if sel.exists == 0 {
        SeqSet::new()
    } else {
        s.seq_numbers().await?
    };
    let _ = s.logout().await;
    Ok(seqs)
}

// ------------------------------------------------------------------ probe

/// A mailbox an end user (or the workload) uses.
#[derive(Clone, Debug)]
pub struct MailAccount {
    /// Its address, e.g. `alice@drlab.test` (SMTP recipient).
    pub address: String,
    /// IMAP login name, e.g. `alice`.
    pub login: String,
    /// IMAP password.
    pub password: Secret,
}

/// What an end-user probe needs besides the resolver.
#[derive(Clone, Debug)]
pub struct ProbeSpec {
    /// The service name users connect to, e.g. `exch1.drlab.test`.
    pub service_name: String,
    /// SMTP port.
    pub smtp_port: u16,
    /// IMAP port.
    pub imap_port: u16,
    /// The probe's sender address.
    pub from: String,
    /// The name the probe gives in EHLO.
    pub helo_name: String,
    /// The user's mailbox.
    pub account: MailAccount,
    /// SMTP limits.
    pub smtp_limits: SmtpLimits,
    /// IMAP limits.
    pub imap_limits: ImapLimits,
}

/// A successful probe.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProbeOutcome {
    /// The address the name resolved to.
    pub addr: IpAddr,
    /// Whether that address came from the client's cache.
    pub from_cache: bool,
    /// The SMTP server's acknowledgement of the probe message.
    pub smtp_ack: String,
    /// Messages in the INBOX at SELECT.
    pub exists: u32,
}

/// Why a probe (or a write through a name) failed: the first step that failed.
#[derive(Debug, thiserror::Error)]
pub enum ProbeError {
    /// The service name could not be resolved.
    #[error("probe: resolving {name}: {source}")]
    Resolve {
        /// The service name.
        name: String,
        /// The DNS error.
        source: DnsError,
    },
    /// The name has no address (yet).
    #[error("probe: {name} has no A record")]
    NoAddress {
        /// The service name.
        name: String,
    },
    /// Submission failed.
    #[error("probe: {0}")]
    Smtp(#[from] SmtpError),
    /// Login or SELECT failed.
    #[error("probe: {0}")]
    Imap(#[from] ImapError),
}

impl From<ProbeError> for OpError {
    fn from(e: ProbeError) -> OpError {
        match e {
            ProbeError::Resolve { source, .. } => source.into(),
            ProbeError::NoAddress { name } => OpError::not_found(format!("A record of {name}")),
            ProbeError::Smtp(s) => s.into(),
            ProbeError::Imap(i) => i.into(),
        }
    }
}

/// The address users reach `name` at, through `resolver` (its cache
/// included), and whether it came from the cache.
async fn address_of<N: Net>(
    resolver: &Resolver<N>,
    name: &str,
) -> Result<(IpAddr, bool), ProbeError> {
    let res = resolver
        .resolve(name, drlab_drivers::types::RecordType::A)
        .await
        .map_err(|source| ProbeError::Resolve {
            name: name.to_string(),
            source,
        })?;
    let ip = res.first_addr().ok_or_else(|| ProbeError::NoAddress {
        name: name.to_string(),
    })?;
    Ok((IpAddr::V4(ip), res.from_cache))
}

/// One end-user operation (design §2.2): resolve the service name through
/// the client's resolver (its cache included), submit a probe message
/// over SMTP, then log in over IMAP and SELECT the INBOX at that address.
/// `Ok` means the user is served. SMTP and IMAP go over the resolver's
/// transport ([`Resolver::net`]).
pub async fn probe<N: Net>(
    resolver: &Resolver<N>,
    spec: &ProbeSpec,
    probe_id: u64,
) -> Result<ProbeOutcome, ProbeError> {
    let net = resolver.net();
    let (ip, from_cache) = address_of(resolver, &spec.service_name).await?;
    let msg = build_probe_message(
        probe_id,
        &spec.from,
        &spec.account.address,
        unix_now_s(),
        &spec.helo_name,
    );
    let ack = smtp::submit_via(
        net,
        SocketAddr::new(ip, spec.smtp_port),
        &spec.helo_name,
        &spec.from,
        &spec.account.address,
        &msg,
        spec.smtp_limits,
    )
    .await?;
    let mut s =
        ImapSession::connect_via(net, SocketAddr::new(ip, spec.imap_port), spec.imap_limits)
            .await?;
    s.login(&spec.account.login, &spec.account.password).await?;
    let sel = s.select("INBOX").await?;
    let _ = s.logout().await;
    Ok(ProbeOutcome {
        addr: ip,
        from_cache,
        smtp_ack: ack.text(),
        exists: sel.exists,
    })
}

/// The drill's write (`Workload::write`): resolve `service_name` through
/// the client's resolver, then submit workload record `m` to that address
/// (see [`smtp::submit_workload`]). `Ok` — the server's 250 at the end of
/// DATA — means acknowledged; it carries the address written to. The
/// submission goes over the resolver's transport.
pub async fn write_through_name<N: Net>(
    resolver: &Resolver<N>,
    service_name: &str,
    smtp_port: u16,
    helo_name: &str,
    m: &smtp::WorkloadMessage,
    limits: SmtpLimits,
) -> Result<(IpAddr, smtp::Reply), ProbeError> {
    let (ip, _) = address_of(resolver, service_name).await?;
    let ack = smtp::submit_workload_via(
        resolver.net(),
        SocketAddr::new(ip, smtp_port),
        helo_name,
        m,
        limits,
    )
    .await?;
    Ok((ip, ack))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_words_come_out_of_async_imaps_debug_text() {
        assert_eq!(
            server_words(r#"code: None, info: Some("[AUTHENTICATIONFAILED] bad \"login\"")"#),
            r#"[AUTHENTICATIONFAILED] bad "login""#
        );
        assert_eq!(
            server_words(
                r#"outcome: Outcome { code: None, information: Some("no such mailbox") }"#
            ),
            "no such mailbox"
        );
        assert_eq!(
            server_words("code: None, info: None"),
            "code: None, info: None"
        );
    }

    /// How the scripted server misbehaves.
    #[derive(Clone, Copy, PartialEq)]
    enum Script {
        Normal,
        /// FETCH completes with a tagged NO after its responses.
        FetchNo,
        /// The connection closes after SELECT's EXISTS.
        CloseInSelect,
        /// The greeting announces a 500 MB literal.
        HugeLiteral,
    }

    fn read_back_from(
        seqs: &[u64],
        password: &str,
        limits: ImapLimits,
    ) -> Result<SeqSet, ImapError> {
        read_back_scripted(seqs, password, limits, Script::Normal)
    }

    /// Reads back over a scripted server holding `seqs`, with `limits`;
    /// LOGIN succeeds for password `secret` only.
    fn read_back_scripted(
        seqs: &[u64],
        password: &str,
        limits: ImapLimits,
        script: Script,
    ) -> Result<SeqSet, ImapError> {
        use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .start_paused(true)
            .build()
            .unwrap();
        let seqs = seqs.to_vec();
        rt.block_on(async move {
            let (client, server) = tokio::io::duplex(1 << 16);
            let net = crate::net::Pipe::new(client);
            let serve = async move {
                let (r, mut w) = tokio::io::split(server);
                let mut r = BufReader::new(r);
                if script == Script::HugeLiteral {
                    w.write_all(b"* OK [ALERT] {500000000}\r\n").await.unwrap();
                } else {
                    w.write_all(b"* OK ready\r\n").await.unwrap();
                }
                let mut line = String::new();
                while r.read_line(&mut line).await.unwrap_or(0) > 0 {
                    let words: Vec<String> = line.split_whitespace().map(str::to_string).collect();
                    line.clear();
                    let tag = &words[0];
                    let reply = match words[1].as_str() {
                        "LOGIN" if words[3] == "\"secret\"" => format!("{tag} OK done\r\n"),
                        "LOGIN" => format!("{tag} NO [AUTHENTICATIONFAILED] no {} here\r\n", words[3]),
                        "SELECT" if script == Script::CloseInSelect => {
                            let _ = w.write_all(format!("* {} EXISTS\r\n", seqs.len()).as_bytes()).await;
                            break;
                        }
                        "SELECT" => format!("* {} EXISTS\r\n{tag} OK [READ-WRITE] done\r\n", seqs.len()),
                        "UID" => {
                            let mut out = String::new();
                            for (i, seq) in seqs.iter().enumerate() {
                                let field = format!("X-Drlab-Seq: {seq}\r\n\r\n");
                                out += &format!(
                                    "* {n} FETCH (UID {n} BODY[HEADER.FIELDS (X-DRLAB-SEQ)] {{{}}}\r\n{field})\r\n",
                                    field.len(),
                                    n = i + 1
                                );
                            }
                            let status = if script == Script::FetchNo { "NO [SERVERBUG] lost" } else { "OK done" };
                            out + &format!("{tag} {status}\r\n")
                        }
                        _ => format!("* BYE\r\n{tag} OK bye\r\n"),
                    };
                    if w.write_all(reply.as_bytes()).await.is_err() {
                        break;
                    }
                }
            };
            let addr: SocketAddr = "192.0.2.1:143".parse().unwrap();
            let secret = Secret::new(password.to_string());
            let (got, ()) = tokio::join!(read_back_via(&net, addr, "alice", &secret, limits), serve);
            got
        })
    }

    #[test]
    fn read_back_returns_the_sequence_numbers_within_its_bounds() {
        let all = read_back_from(&[3, 1, 7], "secret", ImapLimits::default()).unwrap();
        assert_eq!(all.iter().collect::<Vec<_>>(), [1, 3, 7]);
        let few = ImapLimits {
            responses_max: 2,
            ..ImapLimits::default()
        };
        let e = read_back_from(&[3, 1, 7], "secret", few).unwrap_err();
        assert!(
            matches!(
                e,
                ImapError::Limit {
                    stage: "FETCH",
                    limit: 2,
                    ..
                }
            ),
            "{e:?}"
        );
        let small = ImapLimits {
            fetch_bytes_max: 100,
            ..ImapLimits::default()
        };
        let e = read_back_from(&[3, 1, 7], "secret", small).unwrap_err();
        assert!(
            matches!(
                e,
                ImapError::Limit {
                    stage: "FETCH",
                    limit: 100,
                    ..
                }
            ),
            "{e:?}"
        );
    }

    #[test]
    fn an_answer_without_its_ok_completion_is_no_answer() {
        let l = ImapLimits::default();
        let e = read_back_scripted(&[1, 2], "secret", l, Script::FetchNo).unwrap_err();
        assert!(
            matches!(&e, ImapError::No { stage: "FETCH", text } if text.ends_with("lost")),
            "{e:?}"
        );
        let e = read_back_scripted(&[1, 2], "secret", l, Script::CloseInSelect).unwrap_err();
        assert!(matches!(e, ImapError::Closed { stage: "SELECT" }), "{e:?}");
        // an announced literal past the budget, refused before it is made room for
        let e = read_back_scripted(&[1], "secret", l, Script::HugeLiteral).unwrap_err();
        assert!(
            matches!(
                e,
                ImapError::Limit {
                    stage: "greeting",
                    ..
                }
            ),
            "{e:?}"
        );
    }

    #[test]
    fn every_spelling_of_the_password_is_redacted() {
        for password in [r#"pa"ss"#, r"back\slash", "bell\u{7}", "plain"] {
            let e = read_back_from(&[1], password, ImapLimits::default()).unwrap_err();
            let shown = format!("{e} {e:?}");
            let quoted = password.replace('\\', "\\\\").replace('"', "\\\"");
            let debug = format!("{password:?}");
            for form in [password, quoted.as_str(), debug.trim_matches('"')] {
                assert!(
                    !shown.contains(form),
                    "{password:?} shown as {form:?} in {shown}"
                );
            }
            assert!(shown.contains("[redacted]"), "{shown}");
        }
    }

    #[test]
    fn a_refused_login_names_the_stage_and_hides_the_password() {
        let e = read_back_from(&[1], "hunter2", ImapLimits::default()).unwrap_err();
        let ImapError::No { stage, text } = &e else {
            panic!("{e:?}")
        };
        assert_eq!(*stage, "LOGIN");
        assert_eq!(text, "[AUTHENTICATIONFAILED] no \"[redacted]\" here");
        assert!(!e.to_string().contains("hunter2"));
    }

    #[test]
    fn mailbox_names() {
        assert!(check_mailbox_name("INBOX").is_ok());
        assert!(check_mailbox_name("Sent Items").is_ok());
        assert!(check_mailbox_name("Entwürfe").is_err());
        assert!(check_mailbox_name("").is_err());
        assert!(check_mailbox_name("a\r\nb").is_err());
    }
}
