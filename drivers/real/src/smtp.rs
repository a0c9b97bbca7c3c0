//! SMTP submission of drlab's workload (RFC 5321, messages in RFC 5322
//! format): pure builders and parsers for replies, commands, dot-stuffing
//! and the sequence-numbered workload message, and a tokio client that runs
//! one EHLO / MAIL FROM / RCPT TO / DATA / QUIT dialogue with a time limit on
//! connect and on every exchange.
//!
//! A workload write is acknowledged (drlab's RPO definition, design §2.2)
//! when the server answers 250 at the end of DATA: RFC 5321 §4.1.1.4 says
//! the receiver then "accepts responsibility" for delivering the message.
//! The message carries `X-Drlab-Seq: <seq>` and `Subject: drlab <seq>` so
//! that [`crate::imap`] can find it again.
//!
//! Connections come from a [`Net`] (see [`crate::net`]): [`SmtpSession`] is
//! generic over it with the real network ([`TokioNet`]) as the default, and
//! [`submit`]/[`submit_workload`] have `*_via` twins taking the transport.

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::time::Duration;

use drlab_drivers::OpError;
use tokio::io::{AsyncBufRead, AsyncBufReadExt, AsyncWriteExt, BufReader};

use crate::net::{Net, TokioNet};

/// The header that carries a workload record's sequence number.
pub const SEQ_HEADER: &str = "X-Drlab-Seq";

/// The header that marks an end-user probe message (never a workload record).
pub const PROBE_HEADER: &str = "X-Drlab-Probe";

/// Longest reply line accepted. RFC 5321 §4.5.3.1.5 limits reply lines to
/// 512 octets; real servers stay well below this more lenient bound.
pub const REPLY_LINE_BYTES_MAX: usize = 4096;

/// Most lines accepted in one multi-line reply (an EHLO reply has one line
/// per extension; a few dozen at most in practice).
pub const REPLY_LINES_MAX: usize = 256;

/// Body lines of the padding are this long (without CRLF): under the 78
/// characters RFC 5322 §2.1.1 recommends.
const PAD_LINE_CHARS: usize = 76;

// ------------------------------------------------------------------ replies

/// One complete SMTP reply (RFC 5321 §4.2): a three-digit code and one or
/// more text lines.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reply {
    /// The reply code, 200..=599.
    pub code: u16,
    /// The text of each line, without the code, separator and CRLF.
    pub lines: Vec<String>,
}

impl Reply {
    /// 2yz: positive completion (RFC 5321 §4.2.1).
    pub fn is_positive(&self) -> bool {
        (200..300).contains(&self.code)
    }

    /// 3yz: positive intermediate, e.g. 354 after DATA.
    pub fn is_intermediate(&self) -> bool {
        (300..400).contains(&self.code)
    }

    /// 4yz: transient negative completion (try again later).
    pub fn is_transient(&self) -> bool {
        (400..500).contains(&self.code)
    }

    /// The lines joined with a space, for errors and logs.
    pub fn text(&self) -> String {
        self.lines.join(" ")
    }

    /// EHLO keywords (RFC 5321 §4.1.1.1): the first word of every line
    /// after the first (the greeting), upper-cased, with its parameters.
    pub fn ehlo_extensions(&self) -> Vec<(String, String)> {
        self.lines
            .iter()
            .skip(1)
            .map(|l| {
                let mut it = l.splitn(2, ' ');
                let kw = it.next().unwrap_or("").to_ascii_uppercase();
                (kw, it.next().unwrap_or("").trim().to_string())
            })
            .filter(|(k, _)| !k.is_empty())
            .collect()
    }
}

/// Accumulates reply lines until a reply is complete.
///
/// RFC 5321 §4.2: `Reply-line = *( Reply-code "-" [ textstring ] CRLF )
/// Reply-code [ SP textstring ] CRLF`. Every line of a multi-line reply
/// carries the same code; the last one has a space (or nothing) after it.
#[derive(Debug, Default)]
pub struct ReplyParser {
    code: Option<u16>,
    lines: Vec<String>,
}

impl ReplyParser {
    /// An empty parser.
    pub fn new() -> ReplyParser {
        ReplyParser::default()
    }

    /// Feeds one line (with or without its CRLF). Returns the reply when this
    /// line completes it; the parser is then empty again.
    pub fn feed(&mut self, line: &[u8]) -> Result<Option<Reply>, String> {
        let line = strip_crlf(line);
        if line.len() > REPLY_LINE_BYTES_MAX {
            return Err(format!(
                "reply line longer than {REPLY_LINE_BYTES_MAX} bytes"
            ));
        }
        let text = String::from_utf8_lossy(line);
        let b = line;
        if b.len() < 3 || !b[..3].iter().all(u8::is_ascii_digit) {
            return Err(format!("reply line does not start with a code: {text:?}"));
        }
        let code =
            u16::from(b[0] - b'0') * 100 + u16::from(b[1] - b'0') * 10 + u16::from(b[2] - b'0');
        if !(200..600).contains(&code) {
            return Err(format!("reply code {code} out of range"));
        }
        if let Some(c) = self.code
            && c != code
        {
            return Err(format!(
                "multi-line reply changed its code from {c} to {code}"
            ));
        }
        let (last, rest) = match b.get(3) {
            None => (true, ""),
            Some(b' ') => (true, &text[4..]),
            Some(b'-') => (false, &text[4..]),
            Some(_) => return Err(format!("bad separator after reply code: {text:?}")),
        };
        if self.lines.len() >= REPLY_LINES_MAX {
            return Err(format!("reply longer than {REPLY_LINES_MAX} lines"));
        }
        self.code = Some(code);
        self.lines.push(rest.to_string());
        if last {
            let lines = std::mem::take(&mut self.lines);
            self.code = None;
            Ok(Some(Reply { code, lines }))
        } else {
            Ok(None)
        }
    }
}

fn strip_crlf(line: &[u8]) -> &[u8] {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    line.strip_suffix(b"\r").unwrap_or(line)
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

/// `EHLO <name>` (RFC 5321 §4.1.1.1).
pub fn ehlo_command(helo_name: &str) -> String {
    format!("EHLO {helo_name}\r\n")
}

/// `HELO <name>`, the fallback when EHLO is not recognised (RFC 5321 §3.2).
pub fn helo_command(helo_name: &str) -> String {
    format!("HELO {helo_name}\r\n")
}

/// `MAIL FROM:<addr>` (RFC 5321 §4.1.1.2), with `SIZE=n` (RFC 1870 §6)
/// when the server announced the SIZE extension.
pub fn mail_from_command(from: &str, size: Option<usize>) -> String {
    match size {
        Some(n) => format!("MAIL FROM:<{from}> SIZE={n}\r\n"),
        None => format!("MAIL FROM:<{from}>\r\n"),
    }
}

/// `RCPT TO:<addr>` (RFC 5321 §4.1.1.3).
pub fn rcpt_to_command(to: &str) -> String {
    format!("RCPT TO:<{to}>\r\n")
}

/// Mail data as sent after `DATA` (RFC 5321 §4.1.1.4, §4.5.2): line ends
/// normalised to CRLF (a bare CR or LF is not allowed, §2.3.8), a period
/// doubled at the start of every line that begins with one (transparency,
/// §4.5.2), a final CRLF added when the content lacks one, then the
/// terminating `.` CRLF.
pub fn dot_stuff(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len() + data.len() / 64 + 5);
    let mut at_line_start = true;
    let mut i = 0;
    while i < data.len() {
        let c = data[i];
        if at_line_start && c == b'.' {
            out.push(b'.');
        }
        match c {
            b'\r' => {
                // CRLF, or a bare CR which becomes CRLF
                out.extend_from_slice(b"\r\n");
                if data.get(i + 1) == Some(&b'\n') {
                    i += 1;
                }
                at_line_start = true;
            }
            b'\n' => {
                out.extend_from_slice(b"\r\n");
                at_line_start = true;
            }
            _ => {
                out.push(c);
                at_line_start = false;
            }
        }
        i += 1;
    }
    if !at_line_start {
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b".\r\n");
    out
}

/// Reverses [`dot_stuff`] (what a server does, RFC 5321 §4.5.2): for tests
/// and for reading spooled data. Stops at the terminating line.
pub fn dot_unstuff(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len());
    for line in data.split_inclusive(|&c| c == b'\n') {
        if line == b".\r\n" {
            break;
        }
        out.extend_from_slice(line.strip_prefix(b".").unwrap_or(line));
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

/// Reads one line (through LF) of at most `max_bytes`. `Ok(None)` at end
/// of stream before any byte.
pub(crate) async fn read_line_limited<R: AsyncBufRead + Unpin>(
    r: &mut R,
    max_bytes: usize,
) -> std::io::Result<Option<Vec<u8>>> {
    let mut line = Vec::new();
    loop {
        let buf = r.fill_buf().await?;
        if buf.is_empty() {
            return if line.is_empty() {
                Ok(None)
            } else {
                Err(std::io::Error::new(
                    std::io::ErrorKind::UnexpectedEof,
                    "connection closed in the middle of a line",
                ))
            };
        }
        let (take, done) = match buf.iter().position(|&c| c == b'\n') {
            Some(p) => (p + 1, true),
            None => (buf.len(), false),
        };
        if line.len() + take > max_bytes {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!("line longer than {max_bytes} bytes"),
            ));
        }
        line.extend_from_slice(&buf[..take]);
        r.consume(take);
        if done {
            return Ok(Some(line));
        }
    }
}

/// An open SMTP dialogue with one server, over a connection of `N`.
pub struct SmtpSession<N: Net = TokioNet> {
    /// The connection: replies are read through the buffer, commands and
    /// data are written straight through it.
    stream: BufReader<N::Tcp>,
    limits: SmtpLimits,
    /// Extensions from the EHLO reply.
    extensions: Vec<(String, String)>,
}

impl SmtpSession {
    /// Connects and reads the greeting (220, RFC 5321 §4.3.1 / §3.1).
    pub async fn connect(addr: SocketAddr, limits: SmtpLimits) -> Result<SmtpSession, SmtpError> {
        SmtpSession::connect_via(&TokioNet, addr, limits).await
    }
}

impl<N: Net> SmtpSession<N> {
    /// [`SmtpSession::connect`] over the transport `net`.
    pub async fn connect_via(
        net: &N,
        addr: SocketAddr,
        limits: SmtpLimits,
    ) -> Result<SmtpSession<N>, SmtpError> {
        let stream = connect_tcp(net, addr, limits.connect_timeout_ms)
            .await
            .map_err(|e| match e {
                ConnectFail::Io(source) => SmtpError::Connect { addr, source },
                ConnectFail::Timeout => SmtpError::Timeout {
                    stage: "connect",
                    after_ms: limits.connect_timeout_ms,
                },
            })?;
        let mut s = SmtpSession {
            stream: BufReader::new(stream),
            limits,
            extensions: Vec::new(),
        };
        let greeting = s.read_reply("greeting", limits.exchange_timeout_ms).await?;
        require(greeting, "greeting", |c| c == 220)?;
        Ok(s)
    }

    /// Announces the client (EHLO, falling back to HELO when the server
    /// does not know EHLO, RFC 5321 §3.2) and records the extensions.
    pub async fn hello(&mut self, helo_name: &str) -> Result<Reply, SmtpError> {
        check_helo_name(helo_name)?;
        let r = self.command("EHLO", &ehlo_command(helo_name)).await?;
        if r.is_positive() {
            self.extensions = r.ehlo_extensions();
            return Ok(r);
        }
        if matches!(r.code, 500 | 502) {
            let r = self.command("HELO", &helo_command(helo_name)).await?;
            return require(r, "HELO", |c| c == 250);
        }
        require(r, "EHLO", |c| c == 250)
    }

    /// Whether the server announced an extension in its EHLO reply.
    pub fn has_extension(&self, keyword: &str) -> bool {
        self.extensions
            .iter()
            .any(|(k, _)| k.eq_ignore_ascii_case(keyword))
    }

    /// Sends one message: MAIL FROM, RCPT TO, DATA (dot-stuffed), and
    /// returns the server's reply to the end of data — the acknowledgement.
    pub async fn send(&mut self, from: &str, to: &str, data: &[u8]) -> Result<Reply, SmtpError> {
        check_mailbox(from)?;
        check_mailbox(to)?;
        let size = self.has_extension("SIZE").then_some(data.len());
        let r = self
            .command("MAIL FROM", &mail_from_command(from, size))
            .await?;
        require(r, "MAIL FROM", |c| c == 250)?;
        let r = self.command("RCPT TO", &rcpt_to_command(to)).await?;
        // 251: "User not local; will forward" is also a success (§4.1.1.3)
        require(r, "RCPT TO", |c| c == 250 || c == 251)?;
        let r = self.command("DATA", "DATA\r\n").await?;
        require(r, "DATA", |c| c == 354)?;
        let stuffed = dot_stuff(data);
        let limit = self.limits.data_timeout_ms;
        match tokio::time::timeout(Duration::from_millis(limit), async {
            self.stream.write_all(&stuffed).await?;
            self.stream.flush().await
        })
        .await
        {
            Ok(Ok(())) => {}
            Ok(Err(source)) => {
                return Err(SmtpError::Io {
                    stage: "DATA",
                    source,
                });
            }
            Err(_) => {
                return Err(SmtpError::Timeout {
                    stage: "DATA",
                    after_ms: limit,
                });
            }
        }
        let r = self.read_reply("DATA end", limit).await?;
        require(r, "DATA end", |c| c == 250)
    }

    /// Ends the session politely (QUIT, 221, RFC 5321 §4.1.1.10).
    pub async fn quit(mut self) -> Result<(), SmtpError> {
        let r = self.command("QUIT", "QUIT\r\n").await?;
        require(r, "QUIT", |c| c == 221).map(|_| ())
    }

    async fn command(&mut self, stage: &'static str, line: &str) -> Result<Reply, SmtpError> {
        let limit = self.limits.exchange_timeout_ms;
        match tokio::time::timeout(Duration::from_millis(limit), async {
            self.stream.write_all(line.as_bytes()).await?;
            self.stream.flush().await
        })
        .await
        {
            Ok(Ok(())) => {}
            Ok(Err(source)) => return Err(SmtpError::Io { stage, source }),
            Err(_) => {
                return Err(SmtpError::Timeout {
                    stage,
                    after_ms: limit,
                });
            }
        }
        self.read_reply(stage, limit).await
    }

    async fn read_reply(&mut self, stage: &'static str, limit_ms: u64) -> Result<Reply, SmtpError> {
        let reader = &mut self.stream;
        let fut = async {
            let mut p = ReplyParser::new();
            loop {
                let line = read_line_limited(reader, REPLY_LINE_BYTES_MAX + 2)
                    .await
                    .map_err(|source| SmtpError::Io { stage, source })?
                    .ok_or(SmtpError::Closed { stage })?;
                match p.feed(&line) {
                    Ok(Some(r)) => return Ok(r),
                    Ok(None) => {}
                    Err(detail) => return Err(SmtpError::Protocol { stage, detail }),
                }
            }
        };
        tokio::time::timeout(Duration::from_millis(limit_ms), fut)
            .await
            .map_err(|_| SmtpError::Timeout {
                stage,
                after_ms: limit_ms,
            })?
    }
}

fn require(r: Reply, stage: &'static str, ok: impl Fn(u16) -> bool) -> Result<Reply, SmtpError> {
    if ok(r.code) {
        Ok(r)
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
    let mut s = SmtpSession::connect_via(net, addr, limits).await?;
    s.hello(helo_name).await?;
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

    fn feed_all(lines: &[&str]) -> Result<Option<Reply>, String> {
        let mut p = ReplyParser::new();
        let mut last = None;
        for l in lines {
            last = p.feed(l.as_bytes())?;
        }
        Ok(last)
    }

    #[test]
    fn single_line_reply() {
        let r = feed_all(&["250 2.0.0 Ok: queued as 4F1C2\r\n"])
            .unwrap()
            .unwrap();
        assert_eq!(r.code, 250);
        assert_eq!(r.lines, vec!["2.0.0 Ok: queued as 4F1C2"]);
        assert!(r.is_positive());
    }

    #[test]
    fn multi_line_ehlo_reply_and_extensions() {
        let mut p = ReplyParser::new();
        assert_eq!(p.feed(b"250-mail1.drlab.test\r\n").unwrap(), None);
        assert_eq!(p.feed(b"250-PIPELINING\r\n").unwrap(), None);
        assert_eq!(p.feed(b"250-SIZE 10240000\r\n").unwrap(), None);
        assert_eq!(p.feed(b"250-8bitmime\r\n").unwrap(), None);
        let r = p.feed(b"250 CHUNKING\r\n").unwrap().unwrap();
        assert_eq!(r.lines.len(), 5);
        assert_eq!(
            r.ehlo_extensions(),
            vec![
                ("PIPELINING".into(), String::new()),
                ("SIZE".into(), "10240000".into()),
                ("8BITMIME".into(), String::new()),
                ("CHUNKING".into(), String::new())
            ]
        );
        // the parser is reusable after a complete reply
        assert_eq!(p.feed(b"221 bye").unwrap().unwrap().code, 221);
    }

    #[test]
    fn bare_code_and_empty_continuation_lines() {
        let r = feed_all(&["250-\r\n", "250\r\n"]).unwrap().unwrap();
        assert_eq!(r.lines, vec!["", ""]);
    }

    #[test]
    fn malformed_replies_are_errors() {
        assert!(feed_all(&["hello\r\n"]).is_err());
        assert!(feed_all(&["25\r\n"]).is_err());
        assert!(feed_all(&["250x ok\r\n"]).is_err());
        assert!(feed_all(&["150 ok\r\n"]).is_err());
        assert!(
            feed_all(&["250-a\r\n", "251 b\r\n"])
                .unwrap_err()
                .contains("changed")
        );
        let long = format!("250 {}", "x".repeat(REPLY_LINE_BYTES_MAX));
        assert!(feed_all(&[&long]).is_err());
        let mut p = ReplyParser::new();
        let mut err = None;
        for _ in 0..=REPLY_LINES_MAX {
            if let Err(e) = p.feed(b"250-x") {
                err = Some(e);
                break;
            }
        }
        assert!(err.unwrap().contains("lines"));
    }

    #[test]
    fn reply_classes() {
        let r = |code| Reply {
            code,
            lines: vec![],
        };
        assert!(r(354).is_intermediate());
        assert!(r(451).is_transient());
        assert!(!r(550).is_transient() && !r(550).is_positive());
    }

    #[test]
    fn dot_stuffing_doubles_leading_periods() {
        assert_eq!(
            dot_stuff(b"a\r\n.b\r\n..c\r\n.\r\nd.\r\n"),
            b"a\r\n..b\r\n...c\r\n..\r\nd.\r\n.\r\n".to_vec()
        );
        // first line too
        assert_eq!(dot_stuff(b".x"), b"..x\r\n.\r\n".to_vec());
    }

    #[test]
    fn dot_stuffing_normalises_line_ends() {
        assert_eq!(dot_stuff(b"a\nb\rc"), b"a\r\nb\r\nc\r\n.\r\n".to_vec());
        assert_eq!(dot_stuff(b"a\n.b"), b"a\r\n..b\r\n.\r\n".to_vec());
        assert_eq!(dot_stuff(b""), b".\r\n".to_vec());
        assert_eq!(dot_stuff(b"\r\n"), b"\r\n.\r\n".to_vec());
    }

    #[test]
    fn dot_unstuff_reverses() {
        let original = b"x\r\n.\r\n..y\r\nz\r\n".to_vec();
        assert_eq!(dot_unstuff(&dot_stuff(&original)), original);
    }

    #[test]
    fn commands() {
        assert_eq!(ehlo_command("client"), "EHLO client\r\n");
        assert_eq!(
            mail_from_command("a@b.c", Some(12)),
            "MAIL FROM:<a@b.c> SIZE=12\r\n"
        );
        assert_eq!(mail_from_command("a@b.c", None), "MAIL FROM:<a@b.c>\r\n");
        assert_eq!(rcpt_to_command("alice@x"), "RCPT TO:<alice@x>\r\n");
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

    #[tokio::test]
    async fn line_reader_limits() {
        let mut r: &[u8] = b"abc\r\nlonger line\r\ntail";
        assert_eq!(
            read_line_limited(&mut r, 64).await.unwrap().unwrap(),
            b"abc\r\n"
        );
        assert!(read_line_limited(&mut r, 5).await.is_err());
        let mut r: &[u8] = b"tail";
        assert!(read_line_limited(&mut r, 64).await.is_err());
        let mut r: &[u8] = b"";
        assert!(read_line_limited(&mut r, 64).await.unwrap().is_none());
    }
}
