//! SMTP submission of drlab's workload (RFC 5321, messages in RFC 5322
//! format): pure builders of the sequence-numbered workload message and
//! the probe message, and a session that runs one EHLO / MAIL FROM / RCPT
//! TO / DATA / QUIT dialogue through lettre's `AsyncSmtpConnection`, with
//! a time limit on connect and on every exchange.
//!
//! A workload write is acknowledged (drlab's RPO definition, design §2.2)
//! when the server answers 250 at the end of DATA: RFC 5321 §4.1.1.4 says
//! the receiver then "accepts responsibility" for delivering the message.
//! The message carries `X-Drlab-Seq: <seq>` and `Subject: drlab <seq>` so
//! that [`crate::imap`] can find it again.
//!
//! lettre parses the replies, doubles leading periods (§4.5.2) and ends
//! the data; drlab keeps what lettre does not offer: the transport
//! ([`Net`], so turmoil's network can stand in), a limit per exchange and
//! the stage that overran it (lettre's connect reads the greeting and
//! sends EHLO in one call; [`crate::exchange`] times each), a bound on a
//! reply, and the exact codes each stage accepts (lettre takes any 2yz or
//! 3yz). It sends no HELO when a server refuses EHLO, and no `SIZE`
//! parameter: every server drlab drives (Postfix) speaks ESMTP, and SIZE
//! is optional (RFC 1870).
//!
//! Connections come from a [`Net`] (see [`crate::net`]): [`SmtpSession`]
//! opens its stream over one, the real network ([`TokioNet`]) by default,
//! and [`submit`]/[`submit_workload`] have `*_via` twins taking the
//! transport.

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::time::Duration;

use drlab_drivers::OpError;
use lettre::Address;
use lettre::transport::smtp::client::{AsyncSmtpConnection, AsyncTokioStream};
use lettre::transport::smtp::commands::{Data, Mail, Rcpt};
use lettre::transport::smtp::extension::ClientId;
use lettre::transport::smtp::response::Response;
use tokio::io::{AsyncRead, AsyncWrite};

use crate::exchange::{Exchange, Meter, Metered, Verdict};
use crate::net::{Net, TokioNet};

/// The header that carries a workload record's sequence number.
pub const SEQ_HEADER: &str = "X-Drlab-Seq";

/// The header that marks an end-user probe message (never a workload record).
pub const PROBE_HEADER: &str = "X-Drlab-Probe";

/// Body lines of the padding are this long (without CRLF): under the 78
/// characters RFC 5322 §2.1.1 recommends.
const PAD_LINE_CHARS: usize = 76;

// ------------------------------------------------------------------ replies

/// One complete SMTP reply (RFC 5321 §4.2): a three-digit code and one or
/// more text lines, as lettre parsed them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reply {
    /// The reply code, 200..=599.
    pub code: u16,
    /// The text of each line, without the code, separator and CRLF.
    pub lines: Vec<String>,
}

impl Reply {
    /// The lines joined with a space, for errors and logs.
    pub fn text(&self) -> String {
        self.lines.join(" ")
    }
}

impl From<&Response> for Reply {
    fn from(r: &Response) -> Reply {
        Reply {
            code: u16::from(r.code()),
            lines: r.message().map(str::to_string).collect(),
        }
    }
}

// ------------------------------------------------------------------ commands

/// Checks a mailbox for use in `MAIL FROM:<..>` / `RCPT TO:<..>`: an
/// RFC 5321 §4.1.2 `Mailbox` (`local-part "@" domain`) restricted to
/// printable ASCII without spaces and angle brackets, so that it can never
/// smuggle a second command (CR/LF) into the dialogue.
pub fn check_mailbox(addr: &str) -> Result<(), SmtpError> {
    let bad = |why: &str| SmtpError::InvalidInput {
        detail: format!("mailbox {addr:?} {why}"),
    };
    if addr.len() > 254 {
        return Err(bad("is longer than 254 characters"));
    }
    if !addr
        .bytes()
        .all(|c| c.is_ascii_graphic() && c != b'<' && c != b'>')
    {
        return Err(bad("contains a space, control, non-ASCII or angle bracket"));
    }
    match addr.rsplit_once('@') {
        Some((l, d)) if !l.is_empty() && !d.is_empty() => Ok(()),
        _ => Err(bad("is not local-part@domain")),
    }
}

/// Checks a host name for EHLO (RFC 5321 §4.1.1.1, a `Domain`).
pub fn check_helo_name(name: &str) -> Result<(), SmtpError> {
    let ok = !name.is_empty()
        && name.len() <= 253
        && name
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'.');
    if ok {
        Ok(())
    } else {
        Err(SmtpError::InvalidInput {
            detail: format!("EHLO name {name:?} is not a domain name"),
        })
    }
}

/// Mail data with its line ends normalised to CRLF (a bare CR or LF is
/// not allowed, RFC 5321 §2.3.8) and without its final CRLF: lettre's
/// `message` adds the period-doubling of §4.5.2 and then `CRLF . CRLF`,
/// which ends the last line and the data, so the bytes on the wire are
/// those the RFC asks for whether or not the content ended its last line.
pub fn data_lines(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len() + data.len() / 64);
    let mut i = 0;
    while i < data.len() {
        match data[i] {
            b'\r' => {
                // CRLF, or a bare CR which becomes CRLF
                out.extend_from_slice(b"\r\n");
                if data.get(i + 1) == Some(&b'\n') {
                    i += 1;
                }
            }
            b'\n' => out.extend_from_slice(b"\r\n"),
            c => out.push(c),
        }
        i += 1;
    }
    if out.ends_with(b"\r\n") {
        out.truncate(out.len() - 2);
    }
    out
}

// ------------------------------------------------------------------ messages

/// A workload record to submit: the drill's write of record `seq`, `bytes`
/// long, for one mailbox.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WorkloadMessage {
    /// Sequence number of the record.
    pub seq: u64,
    /// Size of the message as submitted (headers, blank line and body, CRLF
    /// line ends, before dot-stuffing). Messages cannot be shorter than their
    /// headers; see [`build_workload_message`].
    pub bytes: u32,
    /// Envelope and `From:` address.
    pub from: String,
    /// Envelope and `To:` address (the mailbox).
    pub to: String,
    /// Submission time, seconds since the Unix epoch (for `Date:`).
    pub date_unix_s: u64,
    /// Right-hand side of the `Message-ID:` (the submitting host's name).
    pub id_domain: String,
}

/// Builds the RFC 5322 message of a workload record.
///
/// Header fields (RFC 5322 §3.6): `Date` and `From` (the two required
/// ones), `To`, `Subject: drlab <seq>`, `Message-ID: <drlab.<seq>.<date>@<domain>>`,
/// and [`SEQ_HEADER`]`: <seq>`. The body is printable ASCII lines of at most
/// 78 characters (§2.1.1) padded so that the whole message is exactly
/// `bytes` long; when `bytes` is smaller than the headers the body is empty
/// (and the message is the headers' length), and a one-byte remainder is
/// absorbed by lengthening a line (a line cannot be one byte long).
pub fn build_workload_message(m: &WorkloadMessage) -> Vec<u8> {
    let mut head = String::new();
    // writes to a String cannot fail
    let _ = write!(
        head,
        "Date: {}\r\nFrom: drlab workload <{}>\r\nTo: <{}>\r\nSubject: drlab {}\r\nMessage-ID: <drlab.{}.{}@{}>\r\n{}: {}\r\n\r\n",
        rfc5322_date(m.date_unix_s),
        m.from,
        m.to,
        m.seq,
        m.seq,
        m.date_unix_s,
        m.id_domain,
        SEQ_HEADER,
        m.seq
    );
    let mut out = head.into_bytes();
    let body_len = (m.bytes as usize).saturating_sub(out.len());
    pad_body(&mut out, body_len, m.seq);
    out
}

/// Builds a probe message (an end user's submission, never a workload
/// record): same shape, with [`PROBE_HEADER`] instead of [`SEQ_HEADER`].
pub fn build_probe_message(
    probe_id: u64,
    from: &str,
    to: &str,
    date_unix_s: u64,
    id_domain: &str,
) -> Vec<u8> {
    format!(
        "Date: {}\r\nFrom: drlab probe <{from}>\r\nTo: <{to}>\r\nSubject: drlab probe {probe_id}\r\nMessage-ID: <drlab.probe.{probe_id}.{date_unix_s}@{id_domain}>\r\n{PROBE_HEADER}: {probe_id}\r\n\r\nend-user probe {probe_id}\r\n",
        rfc5322_date(date_unix_s)
    )
    .into_bytes()
}

/// Appends `len` bytes of body: lines of [`PAD_LINE_CHARS`] characters plus
/// CRLF, and a shorter last line.
fn pad_body(out: &mut Vec<u8>, len: usize, seq: u64) {
    if len == 0 {
        return;
    }
    let line = PAD_LINE_CHARS + 2;
    let mut full = len / line;
    let mut rest = len % line;
    // a line is at least CRLF (2 bytes): fold a remainder of 1 into a
    // longer last full line, or round a 1-byte body up to an empty line
    let mut long_last = false;
    if rest == 1 {
        if full > 0 {
            long_last = true;
            rest = 0;
        } else {
            rest = 2;
        }
    }
    let pattern = format!("drlab record {seq} ");
    let mut fill = pattern.bytes().cycle();
    let mut emit = |out: &mut Vec<u8>, chars: usize| {
        out.extend((&mut fill).take(chars));
        out.extend_from_slice(b"\r\n");
    };
    while full > 0 {
        full -= 1;
        let chars = if full == 0 && long_last {
            PAD_LINE_CHARS + 1
        } else {
            PAD_LINE_CHARS
        };
        emit(out, chars);
    }
    if rest >= 2 {
        emit(out, rest - 2);
    }
}

/// The values of header field `name` (case-insensitive, RFC 5322 §1.2.2) in
/// a header block, unfolded (§2.2.3) and trimmed. Stops at the blank line
/// that ends the header.
pub fn header_values(header_block: &[u8], name: &str) -> Vec<String> {
    let text = String::from_utf8_lossy(header_block);
    let mut fields: Vec<String> = Vec::new();
    for line in text.split('\n') {
        let line = line.strip_suffix('\r').unwrap_or(line);
        if line.is_empty() {
            break;
        }
        if line.starts_with([' ', '\t']) {
            if let Some(last) = fields.last_mut() {
                last.push_str(line);
            }
        } else {
            fields.push(line.to_string());
        }
    }
    fields
        .iter()
        .filter_map(|f| {
            let (n, v) = f.split_once(':')?;
            n.trim()
                .eq_ignore_ascii_case(name)
                .then(|| v.trim().to_string())
        })
        .collect()
}

/// The workload sequence number of a message, from its header block (one
/// at or above [`drlab_drivers::SEQ_MAX`] is not drlab's: ignored, never
/// a set of 2^58 words).
pub fn parse_seq(header_block: &[u8]) -> Option<u64> {
    header_values(header_block, SEQ_HEADER)
        .first()
        .and_then(|v| v.parse().ok())
        .filter(|&seq| seq < drlab_drivers::SEQ_MAX)
}

/// `date-time` of RFC 5322 §3.3 in UTC, e.g. `Thu, 01 Jan 1970 00:00:00 +0000`.
pub fn rfc5322_date(unix_s: u64) -> String {
    const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let days = unix_s / 86_400;
    let secs = unix_s % 86_400;
    let (y, m, d) = civil_from_days(days);
    format!(
        "{}, {:02} {} {} {:02}:{:02}:{:02} +0000",
        DAYS[(days % 7) as usize],
        d,
        MONTHS[(m - 1) as usize],
        y,
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    )
}

/// Days since 1970-01-01 to (year, month 1..=12, day 1..=31), proleptic
/// Gregorian (H. Hinnant's `civil_from_days`).
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + u64::from(m <= 2);
    (y, m, d)
}

/// Seconds since the Unix epoch now (0 if the clock is before 1970).
pub fn unix_now_s() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

// ------------------------------------------------------------------ errors

/// Why a submission failed. Never contains message content or credentials.
#[derive(Debug, thiserror::Error)]
pub enum SmtpError {
    /// The TCP connection could not be opened (refused, unreachable).
    #[error("cannot connect to SMTP server {addr}: {source}")]
    Connect {
        /// The server address.
        addr: SocketAddr,
        /// The socket error.
        source: std::io::Error,
    },
    /// Connecting or one exchange took longer than its limit.
    #[error("SMTP {stage} timed out after {after_ms} ms")]
    Timeout {
        /// What was being done (`connect`, `greeting`, `EHLO`, `DATA end`...).
        stage: &'static str,
        /// The limit that elapsed.
        after_ms: u64,
    },
    /// A socket error in the middle of the dialogue.
    #[error("SMTP {stage}: {source}")]
    Io {
        /// The stage.
        stage: &'static str,
        /// The socket error.
        source: std::io::Error,
    },
    /// The server closed the connection before replying.
    #[error("SMTP server closed the connection during {stage}")]
    Closed {
        /// The stage.
        stage: &'static str,
    },
    /// The server answered with a code the stage does not accept.
    #[error("SMTP {stage} rejected: {code} {text}")]
    Rejected {
        /// The stage.
        stage: &'static str,
        /// The reply code.
        code: u16,
        /// The reply text (the server's words; no credentials are ever sent).
        text: String,
    },
    /// The server's reply is not well-formed SMTP.
    #[error("SMTP {stage}: malformed reply: {detail}")]
    Protocol {
        /// The stage.
        stage: &'static str,
        /// What is wrong.
        detail: String,
    },
    /// The caller's input cannot be sent safely (e.g. an address with CR/LF).
    #[error("invalid SMTP input: {detail}")]
    InvalidInput {
        /// What is wrong.
        detail: String,
    },
}

impl SmtpError {
    /// Whether the server itself said no with a transient (4yz) code.
    pub fn is_transient(&self) -> bool {
        matches!(self, SmtpError::Rejected { code, .. } if (400..500).contains(code))
    }
}

impl From<SmtpError> for OpError {
    fn from(e: SmtpError) -> OpError {
        match &e {
            SmtpError::Connect { addr, source }
                if source.kind() == std::io::ErrorKind::ConnectionRefused =>
            {
                OpError::refused(format!("SMTP {addr}: connection refused"))
            }
            SmtpError::Connect { addr, .. } => OpError::unreachable(addr.to_string()),
            SmtpError::Timeout { stage, after_ms } => {
                OpError::timeout(format!("SMTP {stage}"), Duration::from_millis(*after_ms))
            }
            SmtpError::Rejected { .. } => OpError::refused(e.to_string()),
            SmtpError::InvalidInput { .. } => OpError::invalid_state(e.to_string()),
            _ => OpError::Io {
                detail: e.to_string().into(),
            },
        }
    }
}

// ------------------------------------------------------------------ I/O

/// Time limits of an SMTP session.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SmtpLimits {
    /// Limit on opening the TCP connection.
    pub connect_timeout_ms: u64,
    /// Limit on every command/reply exchange (and the greeting).
    pub exchange_timeout_ms: u64,
    /// Limit on sending the message data and receiving the final reply
    /// (RFC 5321 §4.5.3.2.6 lets servers take up to 10 minutes here; a
    /// drill wants to know much sooner).
    pub data_timeout_ms: u64,
}

impl Default for SmtpLimits {
    fn default() -> SmtpLimits {
        SmtpLimits {
            connect_timeout_ms: 3_000,
            exchange_timeout_ms: 5_000,
            data_timeout_ms: 15_000,
        }
    }
}

/// Most bytes one reply may take. RFC 5321 §4.5.3.1.5 limits a reply line
/// to 512 octets; an EHLO reply has a line per extension, a few dozen at
/// most (lettre's own bound on a reply is looser).
pub const REPLY_BYTES_MAX: u64 = 64 * 1024;

/// Why a TCP connection could not be opened.
pub(crate) enum ConnectFail {
    /// The socket error.
    Io(std::io::Error),
    /// The limit elapsed.
    Timeout,
}

/// Opens a TCP connection over `net` within `timeout_ms` (the real
/// network sets `TCP_NODELAY`: small request/response exchanges do not
/// wait for Nagle).
pub(crate) async fn connect_tcp<N: Net>(
    net: &N,
    addr: SocketAddr,
    timeout_ms: u64,
) -> Result<N::Tcp, ConnectFail> {
    match tokio::time::timeout(Duration::from_millis(timeout_ms), net.tcp_connect(addr)).await {
        Ok(Ok(s)) => Ok(s),
        Ok(Err(e)) => Err(ConnectFail::Io(e)),
        Err(_) => Err(ConnectFail::Timeout),
    }
}

impl<S: AsyncRead + AsyncWrite + Send + Sync + Unpin + 'static> AsyncTokioStream for Metered<S> {
    fn peer_addr(&self) -> std::io::Result<SocketAddr> {
        Ok(self.peer())
    }
}

/// An open SMTP dialogue with one server: lettre's connection over a
/// [`Metered`] stream from a [`Net`].
pub struct SmtpSession {
    conn: AsyncSmtpConnection,
    meter: Meter,
    limits: SmtpLimits,
}

impl std::fmt::Debug for SmtpSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmtpSession")
            .field("limits", &self.limits)
            .finish()
    }
}

impl SmtpSession {
    /// Connects, reads the greeting (RFC 5321 §4.3.1, §3.1) and announces
    /// the client with EHLO (§4.1.1.1), each exchange within its limit.
    /// lettre sends no HELO when a server refuses EHLO: every server drlab
    /// drives (Postfix) speaks ESMTP.
    pub async fn connect(
        addr: SocketAddr,
        helo_name: &str,
        limits: SmtpLimits,
    ) -> Result<SmtpSession, SmtpError> {
        SmtpSession::connect_via(&TokioNet, addr, helo_name, limits).await
    }

    /// [`SmtpSession::connect`] over the transport `net`.
    pub async fn connect_via<N: Net>(
        net: &N,
        addr: SocketAddr,
        helo_name: &str,
        limits: SmtpLimits,
    ) -> Result<SmtpSession, SmtpError> {
        check_helo_name(helo_name)?;
        let stream = connect_tcp(net, addr, limits.connect_timeout_ms)
            .await
            .map_err(|e| match e {
                ConnectFail::Io(source) => SmtpError::Connect { addr, source },
                ConnectFail::Timeout => SmtpError::Timeout {
                    stage: "connect",
                    after_ms: limits.connect_timeout_ms,
                },
            })?;
        let greeting = exchange("greeting", limits.exchange_timeout_ms);
        let (stream, meter) = Metered::new(stream, addr, greeting);
        meter.arm(&[greeting, exchange("EHLO", limits.exchange_timeout_ms)]);
        let hello = ClientId::Domain(helo_name.to_string());
        let conn = AsyncSmtpConnection::connect_with_transport(Box::new(stream), &hello)
            .await
            .map_err(|e| smtp_error(&meter, &e))?;
        Ok(SmtpSession {
            conn,
            meter,
            limits,
        })
    }

    /// Sends one message: MAIL FROM, RCPT TO, DATA (lettre doubles the
    /// leading periods, RFC 5321 §4.5.2), and returns the server's reply to
    /// the end of data — the acknowledgement, which must be 250.
    pub async fn send(&mut self, from: &str, to: &str, data: &[u8]) -> Result<Reply, SmtpError> {
        let from_addr = address(from)?;
        let to_addr = address(to)?;
        let limit = self.limits.exchange_timeout_ms;
        let mail = self.conn.command(Mail::new(Some(from_addr), vec![]));
        let r = run(&self.meter, exchange("MAIL FROM", limit), mail).await?;
        require(&r, "MAIL FROM", |c| c == 250)?;
        let rcpt = self.conn.command(Rcpt::new(to_addr, vec![]));
        let r = run(&self.meter, exchange("RCPT TO", limit), rcpt).await?;
        // 251: "User not local; will forward" is also a success (§4.1.1.3)
        require(&r, "RCPT TO", |c| c == 250 || c == 251)?;
        let r = run(
            &self.meter,
            exchange("DATA", limit),
            self.conn.command(Data),
        )
        .await?;
        require(&r, "DATA", |c| c == 354)?;
        let lines = data_lines(data);
        let body = self.conn.message(&lines);
        let end = exchange("DATA end", self.limits.data_timeout_ms);
        let r = run(&self.meter, end, body).await?;
        require(&r, "DATA end", |c| c == 250)
    }

    /// Ends the session politely (QUIT, 221, RFC 5321 §4.1.1.10).
    pub async fn quit(mut self) -> Result<(), SmtpError> {
        let limit = self.limits.exchange_timeout_ms;
        let r = run(&self.meter, exchange("QUIT", limit), self.conn.quit()).await?;
        require(&r, "QUIT", |c| c == 221).map(|_| ())
    }
}

/// An SMTP exchange within `limit_ms`, its reply within [`REPLY_BYTES_MAX`].
fn exchange(stage: &'static str, limit_ms: u64) -> Exchange {
    Exchange {
        stage,
        limit_ms,
        bytes_max: REPLY_BYTES_MAX,
        literals: false,
    }
}

/// A mailbox as lettre's envelope takes it, checked by [`check_mailbox`]
/// first (lettre's own parser accepts more than drlab ever sends).
fn address(mailbox: &str) -> Result<Address, SmtpError> {
    check_mailbox(mailbox)?;
    mailbox.parse().map_err(|e| SmtpError::InvalidInput {
        detail: format!("mailbox {mailbox:?}: {e}"),
    })
}

/// Runs one lettre call armed as exchange `e`.
async fn run(
    meter: &Meter,
    e: Exchange,
    call: impl std::future::Future<Output = Result<Response, lettre::transport::smtp::Error>>,
) -> Result<Reply, SmtpError> {
    meter.arm(&[e]);
    match call.await {
        Ok(r) => Ok(Reply::from(&r)),
        Err(err) => Err(smtp_error(meter, &err)),
    }
}

/// drlab's error for a failed lettre call: the server's negative reply
/// when one arrived whole (lettre then sends QUIT and closes, inside the
/// same exchange, so what the stream saw after it is not the cause), else
/// what the stream saw first (a deadline, a close, a socket error, an
/// oversized reply), else lettre's parse failure.
fn smtp_error(meter: &Meter, e: &lettre::transport::smtp::Error) -> SmtpError {
    if let Some(code) = e.status() {
        return SmtpError::Rejected {
            stage: meter.stage(),
            code: u16::from(code),
            text: std::error::Error::source(e).map_or_else(String::new, |s| s.to_string()),
        };
    }
    match meter.verdict() {
        Verdict::TimedOut { stage, after_ms } => SmtpError::Timeout { stage, after_ms },
        Verdict::Closed { stage } => SmtpError::Closed { stage },
        Verdict::Io { stage, kind, text } => SmtpError::Io {
            stage,
            source: std::io::Error::new(kind, text),
        },
        Verdict::OverBudget { stage, bytes_max } => SmtpError::Protocol {
            stage,
            detail: format!("reply longer than {bytes_max} bytes"),
        },
        Verdict::Clean { stage } => SmtpError::Protocol {
            stage,
            detail: e.to_string(),
        },
    }
}

fn require(r: &Reply, stage: &'static str, ok: impl Fn(u16) -> bool) -> Result<Reply, SmtpError> {
    if ok(r.code) {
        Ok(r.clone())
    } else {
        Err(SmtpError::Rejected {
            stage,
            code: r.code,
            text: r.text(),
        })
    }
}

/// Submits one message in a fresh session: connect, EHLO, MAIL, RCPT,
/// DATA, QUIT. Returns the reply to the end of DATA: once it is 250 the
/// message is acknowledged, and a failure of the QUIT that follows does not
/// change that (the server already took responsibility), so it is ignored.
pub async fn submit(
    addr: SocketAddr,
    helo_name: &str,
    from: &str,
    to: &str,
    data: &[u8],
    limits: SmtpLimits,
) -> Result<Reply, SmtpError> {
    submit_via(&TokioNet, addr, helo_name, from, to, data, limits).await
}

/// [`submit`] over the transport `net`.
pub async fn submit_via<N: Net>(
    net: &N,
    addr: SocketAddr,
    helo_name: &str,
    from: &str,
    to: &str,
    data: &[u8],
    limits: SmtpLimits,
) -> Result<Reply, SmtpError> {
    let mut s = SmtpSession::connect_via(net, addr, helo_name, limits).await?;
    let ack = s.send(from, to, data).await?;
    let _ = s.quit().await;
    Ok(ack)
}

/// Submits workload record `m` to the server at `addr` (see
/// [`build_workload_message`]). `Ok` is drlab's "acknowledged".
pub async fn submit_workload(
    addr: SocketAddr,
    helo_name: &str,
    m: &WorkloadMessage,
    limits: SmtpLimits,
) -> Result<Reply, SmtpError> {
    submit_workload_via(&TokioNet, addr, helo_name, m, limits).await
}

/// [`submit_workload`] over the transport `net`.
pub async fn submit_workload_via<N: Net>(
    net: &N,
    addr: SocketAddr,
    helo_name: &str,
    m: &WorkloadMessage,
    limits: SmtpLimits,
) -> Result<Reply, SmtpError> {
    let data = build_workload_message(m);
    submit_via(net, addr, helo_name, &m.from, &m.to, &data, limits).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_lines_normalise_line_ends_and_leave_the_end_to_lettre() {
        assert_eq!(data_lines(b"a\nb\rc"), b"a\r\nb\r\nc".to_vec());
        assert_eq!(data_lines(b"a\r\n.b\r\n"), b"a\r\n.b".to_vec());
        assert_eq!(data_lines(b""), b"".to_vec());
        assert_eq!(data_lines(b"\r\n"), b"".to_vec());
        assert_eq!(data_lines(b"x\r\n\r\n"), b"x\r\n".to_vec());
    }

    #[test]
    fn mailbox_checks_block_injection() {
        assert!(check_mailbox("alice@drlab.test").is_ok());
        assert!(check_mailbox("alice@drlab.test>\r\nRCPT TO:<eve@x").is_err());
        assert!(check_mailbox("a b@c").is_err());
        assert!(check_mailbox("nodomain").is_err());
        assert!(check_mailbox("@d").is_err());
        assert!(check_mailbox("é@d").is_err());
        assert!(check_helo_name("client.drlab.test").is_ok());
        assert!(check_helo_name("bad name").is_err());
        assert!(check_helo_name("").is_err());
    }

    fn msg(seq: u64, bytes: u32) -> WorkloadMessage {
        WorkloadMessage {
            seq,
            bytes,
            from: "drlab@drlab.test".into(),
            to: "alice@drlab.test".into(),
            date_unix_s: 1_700_000_000,
            id_domain: "client.drlab.test".into(),
        }
    }

    #[test]
    fn workload_message_has_the_headers_and_exact_size() {
        let m = build_workload_message(&msg(42, 4096));
        assert_eq!(m.len(), 4096);
        let text = String::from_utf8(m.clone()).unwrap();
        assert!(
            text.starts_with("Date: Tue, 14 Nov 2023 22:13:20 +0000\r\n"),
            "{text}"
        );
        assert!(text.contains("\r\nSubject: drlab 42\r\n"));
        assert!(text.contains("\r\nX-Drlab-Seq: 42\r\n\r\n"));
        assert_eq!(parse_seq(&m), Some(42));
        for line in text.split("\r\n") {
            assert!(line.len() <= 78, "{line:?}");
            assert!(!line.starts_with('.'));
            assert!(!line.contains('\n') && !line.contains('\r'));
        }
        assert!(text.ends_with("\r\n"));
    }

    #[test]
    fn workload_message_sizes_around_line_boundaries() {
        let head = build_workload_message(&msg(7, 0)).len();
        for extra in 0..400 {
            let want = head + extra;
            let got = build_workload_message(&msg(7, want as u32)).len();
            // a one-byte body cannot exist (shortest line is CRLF)
            let expect = if extra == 1 { want + 1 } else { want };
            assert_eq!(got, expect, "extra {extra}");
        }
        // smaller than the headers: the headers alone
        assert_eq!(build_workload_message(&msg(7, 10)).len(), head);
    }

    #[test]
    fn header_values_unfold_and_ignore_case() {
        let h = b"Subject: a\r\n b\r\nx-drlab-seq:  9 \r\nX-Other: 1\r\n\r\nX-Drlab-Seq: 10\r\n";
        assert_eq!(header_values(h, "subject"), vec!["a b"]);
        assert_eq!(parse_seq(h), Some(9));
        assert_eq!(parse_seq(b"X-Drlab-Seq: nine\r\n"), None);
        assert_eq!(parse_seq(b""), None);
    }

    #[test]
    fn probe_message_is_not_a_workload_record() {
        let m = build_probe_message(3, "drlab@x.test", "alice@x.test", 0, "c");
        assert_eq!(parse_seq(&m), None);
        assert_eq!(header_values(&m, PROBE_HEADER), vec!["3"]);
        assert!(
            String::from_utf8(m)
                .unwrap()
                .starts_with("Date: Thu, 01 Jan 1970 00:00:00 +0000")
        );
    }

    #[test]
    fn dates() {
        assert_eq!(rfc5322_date(0), "Thu, 01 Jan 1970 00:00:00 +0000");
        assert_eq!(rfc5322_date(951_782_400), "Tue, 29 Feb 2000 00:00:00 +0000");
        assert_eq!(
            rfc5322_date(4_102_444_799),
            "Thu, 31 Dec 2099 23:59:59 +0000"
        );
        assert_eq!(
            rfc5322_date(4_107_542_399),
            "Sun, 28 Feb 2100 23:59:59 +0000"
        );
    }

    /// Runs a session against a server that answers each line the client
    /// sends with the next of `replies` (the greeting first), and returns
    /// what `send` returned and every byte the client wrote.
    fn dialogue(replies: &[&str], data: &[u8]) -> (Result<Reply, SmtpError>, String) {
        use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .start_paused(true)
            .build()
            .unwrap();
        rt.block_on(async {
            let (client, server) = tokio::io::duplex(1 << 16);
            let net = crate::net::Pipe::new(client);
            let replies: Vec<String> = replies.iter().map(|r| format!("{r}\r\n")).collect();
            let serve = async move {
                let (r, mut w) = tokio::io::split(server);
                let mut r = BufReader::new(r);
                let mut heard = String::new();
                let mut replies = replies.into_iter();
                w.write_all(replies.next().unwrap().as_bytes())
                    .await
                    .unwrap();
                let mut in_data = false;
                let mut line = String::new();
                while r.read_line(&mut line).await.unwrap() > 0 {
                    heard += &line;
                    let answer = !in_data || line == ".\r\n";
                    in_data = (in_data && line != ".\r\n") || line == "DATA\r\n";
                    line.clear();
                    if answer {
                        // out of replies: silent, until the client hangs up
                        if let Some(reply) = replies.next() {
                            w.write_all(reply.as_bytes()).await.unwrap();
                        }
                    }
                }
                heard
            };
            let limits = SmtpLimits::default();
            let addr: SocketAddr = "192.0.2.1:25".parse().unwrap();
            let client = async move {
                let mut s =
                    SmtpSession::connect_via(&net, addr, "client.drlab.test", limits).await?;
                s.send("drlab@drlab.test", "alice@drlab.test", data).await
            };
            let (sent, heard) = tokio::join!(client, serve);
            (sent, heard)
        })
    }

    #[test]
    fn the_acknowledgement_is_the_250_after_the_data_as_lettre_sent_it() {
        let ok = [
            "220 mail1 ESMTP",
            "250-mail1\r\n250 PIPELINING",
            "250 2.1.0 Ok",
            "250 2.1.5 Ok",
            "354 go",
            "250 2.0.0 Ok: queued as 4F1C2",
            "221 bye",
        ];
        let (sent, heard) = dialogue(&ok, b"Subject: x\r\n\r\n.hidden\nend\r\n");
        let ack = sent.unwrap();
        assert_eq!(
            (ack.code, ack.text()),
            (250, "2.0.0 Ok: queued as 4F1C2".into())
        );
        assert_eq!(
            heard,
            "EHLO client.drlab.test\r\nMAIL FROM:<drlab@drlab.test>\r\nRCPT TO:<alice@drlab.test>\r\nDATA\r\nSubject: x\r\n\r\n..hidden\r\nend\r\n.\r\n"
        );
    }

    #[test]
    fn another_code_at_a_stage_is_a_rejection_of_that_stage() {
        // a positive code other than 250 after the data is no acknowledgement
        let odd = [
            "220 mail1",
            "250 mail1",
            "250 Ok",
            "250 Ok",
            "354 go",
            "252 maybe",
        ];
        let e = dialogue(&odd, b"x").0.unwrap_err();
        assert!(
            matches!(&e, SmtpError::Rejected { stage: "DATA end", code: 252, text } if text == "maybe"),
            "{e:?}"
        );
        // a transient refusal of the recipient, with the server's words
        let busy = ["220 mail1", "250 mail1", "250 Ok", "451 4.3.0 try later"];
        let e = dialogue(&busy, b"x").0.unwrap_err();
        assert!(
            matches!(&e, SmtpError::Rejected { stage: "RCPT TO", code: 451, text } if text == "4.3.0 try later"),
            "{e:?}"
        );
        assert!(e.is_transient());
        // a refusal of EHLO stays the refusal, whatever lettre's QUIT
        // after it meets (here: silence until the EHLO limit)
        let e = dialogue(&["220 mail1", "421 4.3.2 shutting down"], b"x")
            .0
            .unwrap_err();
        assert!(
            matches!(
                &e,
                SmtpError::Rejected {
                    stage: "EHLO",
                    code: 421,
                    ..
                }
            ),
            "{e:?}"
        );
        assert!(e.is_transient());
        // a server that stops answering after the greeting: EHLO times out
        let e = dialogue(&["220 mail1"], b"x").0.unwrap_err();
        assert!(
            matches!(
                e,
                SmtpError::Timeout {
                    stage: "EHLO",
                    after_ms: 5_000
                }
            ),
            "{e:?}"
        );
    }

    #[test]
    fn errors_map_to_op_errors() {
        let e = SmtpError::Rejected {
            stage: "RCPT TO",
            code: 550,
            text: "no such user".into(),
        };
        assert!(!e.is_transient());
        assert_eq!(OpError::from(e).kind(), drlab_drivers::ErrorKind::Refused);
        let t = SmtpError::Timeout {
            stage: "DATA",
            after_ms: 5,
        };
        assert_eq!(OpError::from(t).kind(), drlab_drivers::ErrorKind::Timeout);
    }
}
