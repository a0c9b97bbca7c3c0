//! IMAP read-back of drlab's workload (a subset of RFC 3501, also valid
//! under IMAP4rev2, RFC 9051): LOGIN, SELECT, a FETCH of the
//! `X-Drlab-Seq` header field of every message, LOGOUT; and the end-user
//! probe (SMTP submission plus IMAP login and SELECT, through the service
//! *name* as a client resolver sees it) that decides when users are served
//! again (RTO, design §2.2).
//!
//! Pure parts: argument encoding (atoms, quoted strings, literals), command
//! chunks, the tokenizer of server responses and the FETCH parser. The
//! tokio client has a time limit on connect and on every command.
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

use drlab_drivers::{OpError, SeqSet};
use tokio::io::{AsyncBufRead, AsyncReadExt, AsyncWriteExt, BufReader};

use crate::dns::{DnsError, Resolver};
use crate::net::{Net, TokioNet};
use crate::secret::Secret;
use crate::smtp::{
    self, ConnectFail, SEQ_HEADER, SmtpError, SmtpLimits, build_probe_message, connect_tcp,
    read_line_limited, unix_now_s,
};

// ------------------------------------------------------------------ arguments

/// How one command argument goes on the wire.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Arg {
    /// Sent as is: an atom, a sequence set, or a parenthesised list the
    /// caller wrote (RFC 3501 §4.1, §9 `atom`).
    Raw(Vec<u8>),
    /// A synchronizing literal `{n}` CRLF + octets (RFC 3501 §4.3): the
    /// client must wait for the server's `+` before sending the octets.
    Literal(Vec<u8>),
}

/// Encodes an `astring` (RFC 3501 §9: `astring = 1*ASTRING-CHAR / string`)
/// in the simplest form that carries it exactly:
/// - an atom when every octet is an ATOM-CHAR or `]`;
/// - a quoted string (`"` and `\` escaped with `\`, §4.3) when it is 7-bit
///   text without CR, LF or NUL;
/// - a literal otherwise (8-bit octets, CR, LF, or the empty string is
///   quoted). NUL cannot be sent at all (§4.3: CHAR8 excludes it).
pub fn astring(value: &[u8]) -> Result<Arg, ImapError> {
    if value.contains(&0) {
        return Err(ImapError::InvalidInput {
            detail: "IMAP strings cannot contain NUL".into(),
        });
    }
    if !value.is_empty() && value.iter().all(|&c| is_atom_char(c) || c == b']') {
        return Ok(Arg::Raw(value.to_vec()));
    }
    if value
        .iter()
        .all(|&c| (0x01..=0x7f).contains(&c) && c != b'\r' && c != b'\n')
    {
        let mut q = Vec::with_capacity(value.len() + 2);
        q.push(b'"');
        for &c in value {
            if c == b'"' || c == b'\\' {
                q.push(b'\\');
            }
            q.push(c);
        }
        q.push(b'"');
        return Ok(Arg::Raw(q));
    }
    Ok(Arg::Literal(value.to_vec()))
}

/// RFC 3501 §9: `ATOM-CHAR = <any CHAR except atom-specials>`, where
/// `atom-specials = "(" / ")" / "{" / SP / CTL / list-wildcards /
/// quoted-specials / resp-specials`.
fn is_atom_char(c: u8) -> bool {
    c > 0x20 && c < 0x7f && !b"(){%*\"\\]".contains(&c)
}

/// A mailbox name argument. Only 7-bit names are supported (non-ASCII
/// names need modified UTF-7, RFC 3501 §5.1.3, which drlab never uses).
pub fn mailbox_arg(name: &str) -> Result<Arg, ImapError> {
    if !name.is_ascii() || name.is_empty() {
        return Err(ImapError::InvalidInput {
            detail: format!("mailbox name {name:?} must be non-empty ASCII"),
        });
    }
    astring(name.as_bytes())
}

/// The chunks of a command: `tag SP verb [SP arg]... CRLF`. Every chunk
/// but the last ends with a literal's `{n}` CRLF announcement; the next
/// chunk starts with the literal's octets and may only be sent after the
/// server's continuation request (RFC 3501 §7.5).
pub fn command_chunks(tag: &str, verb: &str, args: &[Arg]) -> Vec<Vec<u8>> {
    let mut chunks = Vec::new();
    let mut cur = format!("{tag} {verb}").into_bytes();
    for a in args {
        cur.push(b' ');
        match a {
            Arg::Raw(b) => cur.extend_from_slice(b),
            Arg::Literal(b) => {
                cur.extend_from_slice(format!("{{{}}}\r\n", b.len()).as_bytes());
                chunks.push(std::mem::take(&mut cur));
                cur.extend_from_slice(b);
            }
        }
    }
    cur.extend_from_slice(b"\r\n");
    chunks.push(cur);
    chunks
}

// ------------------------------------------------------------------ responses

/// The octet count of a literal announced at the end of a response line
/// (`{n}` CRLF, or `{n+}` of RFC 7888), if any.
pub fn literal_announcement(line: &[u8]) -> Option<usize> {
    let line = line
        .strip_suffix(b"\r\n")
        .or_else(|| line.strip_suffix(b"\n"))?;
    let inner = line.strip_suffix(b"}")?;
    let open = inner.iter().rposition(|&c| c == b'{')?;
    let digits = &inner[open + 1..];
    let digits = digits.strip_suffix(b"+").unwrap_or(digits);
    if digits.is_empty() || digits.len() > 10 || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(digits).ok()?.parse().ok()
}

/// One token of a server response (RFC 3501 §4, §9).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Token {
    /// An atom, number or `NIL`, or a bracketed item such as
    /// `BODY[HEADER.FIELDS (X-DRLAB-SEQ)]` or `[UIDVALIDITY 5]`, kept whole.
    Atom(Vec<u8>),
    /// A quoted string, unescaped.
    Quoted(Vec<u8>),
    /// A literal's octets.
    Literal(Vec<u8>),
    /// `(`.
    Open,
    /// `)`.
    Close,
}

impl Token {
    /// The atom's text, if this is an atom.
    pub fn atom(&self) -> Option<&[u8]> {
        match self {
            Token::Atom(a) => Some(a),
            _ => None,
        }
    }

    /// The atom as a number.
    pub fn number(&self) -> Option<u64> {
        std::str::from_utf8(self.atom()?).ok()?.parse().ok()
    }

    /// The contents of a string (quoted or literal), `None` for NIL.
    pub fn nstring(&self) -> Option<&[u8]> {
        match self {
            Token::Quoted(b) | Token::Literal(b) => Some(b),
            _ => None,
        }
    }
}

/// Splits one complete response (its lines and literals, as
/// [`ImapSession`] reads them) into tokens.
pub fn tokenize(resp: &[u8]) -> Result<Vec<Token>, String> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < resp.len() {
        match resp[i] {
            b' ' | b'\r' | b'\n' => i += 1,
            b'(' => {
                out.push(Token::Open);
                i += 1;
            }
            b')' => {
                out.push(Token::Close);
                i += 1;
            }
            b'"' => {
                let mut s = Vec::new();
                i += 1;
                loop {
                    match resp.get(i) {
                        None | Some(b'\r') | Some(b'\n') => {
                            return Err("unterminated quoted string".into());
                        }
                        Some(b'"') => {
                            i += 1;
                            break;
                        }
                        Some(b'\\') => {
                            let c = *resp
                                .get(i + 1)
                                .ok_or("dangling backslash in quoted string")?;
                            s.push(c);
                            i += 2;
                        }
                        Some(&c) => {
                            s.push(c);
                            i += 1;
                        }
                    }
                }
                out.push(Token::Quoted(s));
            }
            b'{' => {
                let close = resp[i..]
                    .iter()
                    .position(|&c| c == b'}')
                    .ok_or("unterminated literal announcement")?
                    + i;
                let digits = &resp[i + 1..close];
                let digits = digits.strip_suffix(b"+").unwrap_or(digits);
                let n: usize = std::str::from_utf8(digits)
                    .ok()
                    .and_then(|d| d.parse().ok())
                    .ok_or("bad literal length")?;
                let start = if resp[close + 1..].starts_with(b"\r\n") {
                    close + 3
                } else if resp[close + 1..].starts_with(b"\n") {
                    close + 2
                } else {
                    return Err("literal announcement not followed by CRLF".into());
                };
                let end = start
                    .checked_add(n)
                    .filter(|&e| e <= resp.len())
                    .ok_or("literal longer than the response")?;
                out.push(Token::Literal(resp[start..end].to_vec()));
                i = end;
            }
            _ => {
                let start = i;
                let mut depth = 0usize;
                while let Some(&c) = resp.get(i) {
                    match c {
                        b'[' => depth += 1,
                        b']' => depth = depth.saturating_sub(1),
                        b' ' | b'(' | b')' if depth == 0 => break,
                        b'\r' | b'\n' => break,
                        _ => {}
                    }
                    i += 1;
                }
                out.push(Token::Atom(resp[start..i].to_vec()));
            }
        }
    }
    Ok(out)
}

/// The completion state of a command (RFC 3501 §7.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    /// `OK`.
    Ok,
    /// `NO`: the command failed.
    No,
    /// `BAD`: the command was not understood.
    Bad,
}

/// A tagged status response: `tag SP ("OK" / "NO" / "BAD") SP resp-text`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Tagged {
    /// The command's tag.
    pub tag: String,
    /// Completion state.
    pub status: Status,
    /// The text, including any `[code]`.
    pub text: String,
}

/// Parses a tagged status line; `None` if `line` is not one.
pub fn parse_tagged(line: &[u8]) -> Option<Tagged> {
    let text = String::from_utf8_lossy(line);
    let text = text.trim_end_matches(['\r', '\n']);
    let mut it = text.splitn(3, ' ');
    let tag = it.next()?;
    if tag == "*" || tag == "+" || tag.is_empty() {
        return None;
    }
    let status = match it.next()?.to_ascii_uppercase().as_str() {
        "OK" => Status::Ok,
        "NO" => Status::No,
        "BAD" => Status::Bad,
        _ => return None,
    };
    Some(Tagged {
        tag: tag.to_string(),
        status,
        text: it.next().unwrap_or("").to_string(),
    })
}

/// One message's answer to the read-back FETCH.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FetchedHeader {
    /// Message sequence number.
    pub msn: u32,
    /// UID, when the response carries it.
    pub uid: Option<u32>,
    /// The header-field octets (`None` if the server sent NIL).
    pub header: Option<Vec<u8>>,
}

/// Parses `* n FETCH (att value ...)` (RFC 3501 §7.4.2) and returns the
/// UID and the first `BODY[...]` value; `None` if the response is not a
/// FETCH.
pub fn parse_fetch(tokens: &[Token]) -> Result<Option<FetchedHeader>, String> {
    let [Token::Atom(star), n, Token::Atom(verb), rest @ ..] = tokens else {
        return Ok(None);
    };
    if star != b"*" || !verb.eq_ignore_ascii_case(b"FETCH") {
        return Ok(None);
    }
    let msn = n.number().ok_or("FETCH without a message number")? as u32;
    let [Token::Open, items @ ..] = rest else {
        return Err("FETCH data is not a list".into());
    };
    let mut out = FetchedHeader {
        msn,
        uid: None,
        header: None,
    };
    let mut i = 0;
    while i < items.len() {
        let name = match &items[i] {
            Token::Close => break,
            Token::Atom(a) => a.to_ascii_uppercase(),
            other => return Err(format!("unexpected {other:?} in FETCH data")),
        };
        let value = items.get(i + 1).ok_or("FETCH item without a value")?;
        if name == b"UID" {
            out.uid = Some(value.number().ok_or("UID is not a number")? as u32);
        } else if name.starts_with(b"BODY[") && out.header.is_none() {
            out.header = value.nstring().map(<[u8]>::to_vec);
        }
        // skip the value, which may be a (nested) list such as FLAGS
        i += 1;
        if matches!(items[i], Token::Open) {
            let mut depth = 0;
            while i < items.len() {
                match items[i] {
                    Token::Open => depth += 1,
                    Token::Close => {
                        depth -= 1;
                        if depth == 0 {
                            break;
                        }
                    }
                    _ => {}
                }
                i += 1;
            }
        }
        i += 1;
    }
    Ok(Some(out))
}

/// The read-back command's arguments (see the module documentation).
pub fn seq_fetch_args() -> Vec<Arg> {
    vec![
        Arg::Raw(b"1:*".to_vec()),
        Arg::Raw(format!("(UID BODY.PEEK[HEADER.FIELDS ({SEQ_HEADER})])").into_bytes()),
    ]
}

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
        limit: usize,
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
    /// Longest response line.
    pub line_bytes_max: usize,
    /// Largest literal in a response (a header field is a few dozen bytes).
    pub literal_bytes_max: usize,
    /// Most untagged responses to one command (one per message for FETCH).
    pub responses_max: usize,
}

impl Default for ImapLimits {
    fn default() -> ImapLimits {
        ImapLimits {
            connect_timeout_ms: 3_000,
            exchange_timeout_ms: 10_000,
            fetch_timeout_ms: 60_000,
            line_bytes_max: 64 * 1024,
            literal_bytes_max: 1024 * 1024,
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

/// Reads one complete response: a line, plus for every literal it
/// announces the literal's octets and the rest of the line after it.
async fn read_response<R: AsyncBufRead + Unpin>(
    r: &mut R,
    stage: &'static str,
    limits: &ImapLimits,
) -> Result<Vec<u8>, ImapError> {
    let mut resp = Vec::new();
    loop {
        let line = read_line_limited(r, limits.line_bytes_max)
            .await
            .map_err(|source| {
                if source.kind() == std::io::ErrorKind::InvalidData {
                    ImapError::Limit {
                        stage,
                        what: "a response line",
                        limit: limits.line_bytes_max,
                    }
                } else {
                    ImapError::Io { stage, source }
                }
            })?
            .ok_or(ImapError::Closed { stage })?;
        let lit = literal_announcement(&line);
        resp.extend_from_slice(&line);
        let Some(n) = lit else {
            return Ok(resp);
        };
        if n > limits.literal_bytes_max {
            return Err(ImapError::Limit {
                stage,
                what: "a literal",
                limit: limits.literal_bytes_max,
            });
        }
        let at = resp.len();
        resp.resize(at + n, 0);
        r.read_exact(&mut resp[at..])
            .await
            .map_err(|source| ImapError::Io { stage, source })?;
    }
}

/// An open IMAP connection over a connection of `N`.
pub struct ImapSession<N: Net = TokioNet> {
    /// The connection: responses are read through the buffer, commands
    /// are written straight through it.
    stream: BufReader<N::Tcp>,
    limits: ImapLimits,
    next_tag: u32,
    /// Text of the server's greeting.
    pub greeting: String,
}

impl ImapSession {
    /// Connects and reads the greeting (`* OK` or `* PREAUTH`; `* BYE` is
    /// a refusal, RFC 3501 §7.1.5).
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
        let mut reader = BufReader::new(stream);
        let stage = "greeting";
        let line = tokio::time::timeout(
            Duration::from_millis(limits.exchange_timeout_ms),
            read_response(&mut reader, stage, &limits),
        )
        .await
        .map_err(|_| ImapError::Timeout {
            stage,
            after_ms: limits.exchange_timeout_ms,
        })??;
        let text = String::from_utf8_lossy(&line).trim_end().to_string();
        let upper = text.to_ascii_uppercase();
        if upper.starts_with("* BYE") {
            return Err(ImapError::Bye { stage, text });
        }
        if !(upper.starts_with("* OK") || upper.starts_with("* PREAUTH")) {
            return Err(ImapError::Protocol {
                stage,
                detail: format!("unexpected greeting {text:?}"),
            });
        }
        Ok(ImapSession {
            stream: reader,
            limits,
            next_tag: 1,
            greeting: text,
        })
    }

    /// Runs one command: sends its chunks (waiting for `+` before each
    /// literal), hands every untagged response to `untagged`, and returns
    /// the tagged completion if it is OK.
    async fn run(
        &mut self,
        stage: &'static str,
        verb: &str,
        args: &[Arg],
        limit_ms: u64,
        secret: Option<&Secret>,
        mut untagged: impl FnMut(&[u8]) -> Result<(), ImapError>,
    ) -> Result<Tagged, ImapError> {
        let tag = format!("d{}", self.next_tag);
        self.next_tag += 1;
        let chunks = command_chunks(&tag, verb, args);
        let limits = self.limits;
        let stream = &mut self.stream;
        let redact = |t: String| match secret {
            Some(s) if !s.expose().is_empty() => t.replace(s.expose(), "[redacted]"),
            _ => t,
        };
        let fut = async {
            let mut responses = 0usize;
            for (i, chunk) in chunks.iter().enumerate() {
                stream
                    .write_all(chunk)
                    .await
                    .map_err(|source| ImapError::Io { stage, source })?;
                stream
                    .flush()
                    .await
                    .map_err(|source| ImapError::Io { stage, source })?;
                let awaiting_continuation = i + 1 < chunks.len();
                loop {
                    let resp = read_response(stream, stage, &limits).await?;
                    if resp.starts_with(b"+") && awaiting_continuation {
                        break;
                    }
                    if let Some(t) = parse_tagged(&resp).filter(|t| t.tag == tag) {
                        return match t.status {
                            Status::Ok if !awaiting_continuation => Ok(t),
                            Status::Ok => Err(ImapError::Protocol {
                                stage,
                                detail: "command completed before its literal was sent".into(),
                            }),
                            Status::No => Err(ImapError::No {
                                stage,
                                text: redact(t.text),
                            }),
                            Status::Bad => Err(ImapError::Bad {
                                stage,
                                text: redact(t.text),
                            }),
                        };
                    }
                    if resp.starts_with(b"* ") {
                        if resp[2..].to_ascii_uppercase().starts_with(b"BYE") && verb != "LOGOUT" {
                            return Err(ImapError::Bye {
                                stage,
                                text: redact(String::from_utf8_lossy(&resp).trim_end().to_string()),
                            });
                        }
                        responses += 1;
                        if responses > limits.responses_max {
                            return Err(ImapError::Limit {
                                stage,
                                what: "the number of responses",
                                limit: limits.responses_max,
                            });
                        }
                        untagged(&resp)?;
                        continue;
                    }
                    if resp.starts_with(b"+") {
                        return Err(ImapError::Protocol {
                            stage,
                            detail: "unexpected continuation request".into(),
                        });
                    }
                    return Err(ImapError::Protocol {
                        stage,
                        detail: format!(
                            "unexpected response {:?}",
                            redact(String::from_utf8_lossy(&resp).chars().take(80).collect())
                        ),
                    });
                }
            }
            Err(ImapError::Closed { stage })
        };
        tokio::time::timeout(Duration::from_millis(limit_ms), fut)
            .await
            .map_err(|_| ImapError::Timeout {
                stage,
                after_ms: limit_ms,
            })?
    }

    /// `LOGIN user password` (RFC 3501 §6.2.3), each as an atom, quoted
    /// string or literal as [`astring`] decides. The password appears in
    /// no error: server texts are redacted.
    pub async fn login(&mut self, user: &str, password: &Secret) -> Result<(), ImapError> {
        let args = [
            astring(user.as_bytes())?,
            astring(password.expose().as_bytes())?,
        ];
        let limit = self.limits.exchange_timeout_ms;
        self.run("LOGIN", "LOGIN", &args, limit, Some(password), |_| Ok(()))
            .await
            .map(|_| ())
    }

    /// `SELECT mailbox` (RFC 3501 §6.3.1).
    pub async fn select(&mut self, mailbox: &str) -> Result<Selected, ImapError> {
        let mut sel = Selected::default();
        let limit = self.limits.exchange_timeout_ms;
        self.run(
            "SELECT",
            "SELECT",
            &[mailbox_arg(mailbox)?],
            limit,
            None,
            |resp| {
                let t = String::from_utf8_lossy(resp);
                let words: Vec<&str> = t.split_whitespace().collect();
                match words.as_slice() {
                    ["*", n, kw, ..] if kw.eq_ignore_ascii_case("EXISTS") => {
                        sel.exists = n.parse().unwrap_or(0);
                    }
                    ["*", ok, code, v, ..]
                        if ok.eq_ignore_ascii_case("OK")
                            && code.eq_ignore_ascii_case("[UIDVALIDITY") =>
                    {
                        sel.uid_validity = v.trim_end_matches(']').parse().ok();
                    }
                    _ => {}
                }
                Ok(())
            },
        )
        .await?;
        Ok(sel)
    }

    /// The workload sequence numbers of the selected mailbox's messages
    /// (messages without a valid `X-Drlab-Seq` are ignored).
    pub async fn seq_numbers(&mut self) -> Result<SeqSet, ImapError> {
        let mut seqs = SeqSet::new();
        let limit = self.limits.fetch_timeout_ms;
        let stage = "FETCH";
        self.run(stage, "UID FETCH", &seq_fetch_args(), limit, None, |resp| {
            let tokens = tokenize(resp).map_err(|detail| ImapError::Protocol { stage, detail })?;
            if let Some(f) =
                parse_fetch(&tokens).map_err(|detail| ImapError::Protocol { stage, detail })?
                && let Some(seq) = f.header.as_deref().and_then(smtp::parse_seq)
            {
                seqs.insert(seq);
            }
            Ok(())
        })
        .await?;
        Ok(seqs)
    }

    /// `LOGOUT` (RFC 3501 §6.1.3): BYE, then the tagged OK.
    pub async fn logout(mut self) -> Result<(), ImapError> {
        let limit = self.limits.exchange_timeout_ms;
        self.run("LOGOUT", "LOGOUT", &[], limit, None, |_| Ok(()))
            .await
            .map(|_| ())
    }
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
    fn astring_picks_atom_quoted_or_literal() {
        assert_eq!(astring(b"alice").unwrap(), Arg::Raw(b"alice".to_vec()));
        assert_eq!(astring(b"a]b").unwrap(), Arg::Raw(b"a]b".to_vec()));
        assert_eq!(
            astring(b"pass word").unwrap(),
            Arg::Raw(b"\"pass word\"".to_vec())
        );
        assert_eq!(astring(b"").unwrap(), Arg::Raw(b"\"\"".to_vec()));
        assert_eq!(
            astring(br#"a"b\c"#).unwrap(),
            Arg::Raw(br#""a\"b\\c""#.to_vec())
        );
        assert_eq!(astring(b"(x)").unwrap(), Arg::Raw(b"\"(x)\"".to_vec()));
        assert_eq!(astring(b"{5}").unwrap(), Arg::Raw(b"\"{5}\"".to_vec()));
        assert_eq!(
            astring("pässwörd".as_bytes()).unwrap(),
            Arg::Literal("pässwörd".as_bytes().to_vec())
        );
        assert_eq!(
            astring(b"a\r\nb").unwrap(),
            Arg::Literal(b"a\r\nb".to_vec())
        );
        assert!(astring(b"a\0b").is_err());
    }

    #[test]
    fn commands_split_at_literals() {
        let args = [
            astring(b"alice").unwrap(),
            astring("p\u{e4}ss".as_bytes()).unwrap(),
        ];
        let chunks = command_chunks("d1", "LOGIN", &args);
        assert_eq!(chunks.len(), 2);
        assert_eq!(chunks[0], b"d1 LOGIN alice {5}\r\n");
        assert_eq!(chunks[1], "p\u{e4}ss\r\n".as_bytes());
        assert_eq!(
            command_chunks("d2", "LOGOUT", &[]),
            vec![b"d2 LOGOUT\r\n".to_vec()]
        );
        let two = command_chunks(
            "d3",
            "X",
            &[Arg::Literal(b"a".to_vec()), Arg::Literal(b"b".to_vec())],
        );
        assert_eq!(
            two,
            vec![
                b"d3 X {1}\r\n".to_vec(),
                b"a {1}\r\n".to_vec(),
                b"b\r\n".to_vec()
            ]
        );
    }

    #[test]
    fn mailbox_names() {
        assert_eq!(mailbox_arg("INBOX").unwrap(), Arg::Raw(b"INBOX".to_vec()));
        assert_eq!(
            mailbox_arg("Sent Items").unwrap(),
            Arg::Raw(b"\"Sent Items\"".to_vec())
        );
        assert!(mailbox_arg("Entwürfe").is_err());
        assert!(mailbox_arg("").is_err());
    }

    #[test]
    fn literal_announcements() {
        assert_eq!(
            literal_announcement(b"* 1 FETCH (BODY[] {23}\r\n"),
            Some(23)
        );
        assert_eq!(literal_announcement(b"* 1 FETCH (BODY[] {0}\r\n"), Some(0));
        assert_eq!(literal_announcement(b"x {7+}\r\n"), Some(7));
        assert_eq!(literal_announcement(b"d1 OK done\r\n"), None);
        assert_eq!(literal_announcement(b"* OK {x}\r\n"), None);
        assert_eq!(literal_announcement(b"* OK {}\r\n"), None);
        assert_eq!(literal_announcement(b"* OK {99999999999}\r\n"), None);
        assert_eq!(literal_announcement(b"* OK {5}"), None);
    }

    const DOVECOT_FETCH: &[u8] =
        b"* 2 FETCH (UID 7 BODY[HEADER.FIELDS (X-DRLAB-SEQ)] {19}\r\nX-Drlab-Seq: 41\r\n\r\n)\r\n";

    #[test]
    fn tokenizer_handles_literals_quotes_and_sections() {
        let t = tokenize(DOVECOT_FETCH).unwrap();
        assert_eq!(t[0], Token::Atom(b"*".to_vec()));
        assert_eq!(t[3], Token::Open);
        assert_eq!(
            t[6],
            Token::Atom(b"BODY[HEADER.FIELDS (X-DRLAB-SEQ)]".to_vec())
        );
        assert_eq!(t[7], Token::Literal(b"X-Drlab-Seq: 41\r\n\r\n".to_vec()));
        assert_eq!(t[8], Token::Close);
        let q = tokenize(br#"* LIST (\Noselect) "/" "a \"b\" \\c""#).unwrap();
        assert_eq!(q[6], Token::Quoted(br#"a "b" \c"#.to_vec()));
        let ok = tokenize(b"* OK [UIDVALIDITY 1700000000] UIDs valid\r\n").unwrap();
        assert_eq!(ok[2], Token::Atom(b"[UIDVALIDITY 1700000000]".to_vec()));
        // a literal may hold anything, including CRLF and parentheses
        let odd = tokenize(b"* 1 FETCH (BODY[] {6}\r\n)(\r\n\"x)\r\n").unwrap();
        assert_eq!(odd[5], Token::Literal(b")(\r\n\"x".to_vec()));
        assert_eq!(odd[6], Token::Close);
    }

    #[test]
    fn tokenizer_errors() {
        assert!(tokenize(b"* \"open").is_err());
        assert!(tokenize(b"* {5}\r\nab").is_err());
        assert!(tokenize(b"* {x}\r\n").is_err());
        assert!(tokenize(b"* {2}ab").is_err());
    }

    #[test]
    fn fetch_parsing() {
        let f = parse_fetch(&tokenize(DOVECOT_FETCH).unwrap())
            .unwrap()
            .unwrap();
        assert_eq!((f.msn, f.uid), (2, Some(7)));
        assert_eq!(smtp::parse_seq(f.header.as_deref().unwrap()), Some(41));
        // UID after the body, FLAGS list in between, quoted header, NIL
        let t = tokenize(b"* 3 FETCH (FLAGS (\\Seen (x)) BODY[HEADER.FIELDS (X-DRLAB-SEQ)] \"X-Drlab-Seq: 5\r\n\" UID 9)")
            .unwrap_err();
        assert!(t.contains("quoted"), "CR is not allowed in a quoted string");
        let t = tokenize(b"* 3 FETCH (FLAGS (\\Seen (x)) BODY[HEADER.FIELDS (X-DRLAB-SEQ)] \"X-Drlab-Seq: 5\" UID 9)")
            .unwrap();
        let f = parse_fetch(&t).unwrap().unwrap();
        assert_eq!((f.msn, f.uid), (3, Some(9)));
        assert_eq!(f.header.as_deref(), Some(&b"X-Drlab-Seq: 5"[..]));
        let t = tokenize(b"* 4 FETCH (UID 10 BODY[HEADER.FIELDS (X-DRLAB-SEQ)] NIL)").unwrap();
        assert_eq!(parse_fetch(&t).unwrap().unwrap().header, None);
        // not a FETCH
        assert_eq!(
            parse_fetch(&tokenize(b"* 5 EXISTS").unwrap()).unwrap(),
            None
        );
        assert_eq!(
            parse_fetch(&tokenize(b"* OK still here").unwrap()).unwrap(),
            None
        );
        assert!(parse_fetch(&tokenize(b"* 1 FETCH UID 3").unwrap()).is_err());
        assert!(parse_fetch(&tokenize(b"* 1 FETCH (UID)").unwrap()).is_err());
    }

    #[test]
    fn tagged_lines() {
        let t = parse_tagged(b"d3 NO [AUTHENTICATIONFAILED] Authentication failed.\r\n").unwrap();
        assert_eq!(t.tag, "d3");
        assert_eq!(t.status, Status::No);
        assert_eq!(t.text, "[AUTHENTICATIONFAILED] Authentication failed.");
        assert_eq!(parse_tagged(b"d1 ok done").unwrap().status, Status::Ok);
        assert!(parse_tagged(b"* OK hi").is_none());
        assert!(parse_tagged(b"+ go ahead").is_none());
        assert!(parse_tagged(b"d1 MAYBE").is_none());
    }

    #[test]
    fn fetch_command_asks_for_the_header_field_only() {
        let c = command_chunks("d4", "UID FETCH", &seq_fetch_args());
        assert_eq!(
            c,
            vec![b"d4 UID FETCH 1:* (UID BODY.PEEK[HEADER.FIELDS (X-Drlab-Seq)])\r\n".to_vec()]
        );
    }

    /// A scripted server: for each expected client chunk, the bytes to answer.
    async fn scripted(script: Vec<(&'static [u8], &'static [u8])>) -> SocketAddr {
        use tokio::io::AsyncReadExt;
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap();
        tokio::spawn(async move {
            let (mut s, _) = l.accept().await.unwrap();
            s.write_all(b"* OK [CAPABILITY IMAP4rev1 LITERAL+] ready\r\n")
                .await
                .unwrap();
            for (want, reply) in script {
                let mut got = vec![0u8; want.len()];
                s.read_exact(&mut got).await.unwrap();
                assert_eq!(String::from_utf8_lossy(&got), String::from_utf8_lossy(want));
                s.write_all(reply).await.unwrap();
            }
            // hold the connection until the client is done
            let mut rest = Vec::new();
            let _ = s.read_to_end(&mut rest).await;
        });
        addr
    }

    #[tokio::test]
    async fn session_with_literal_login_and_fetch() {
        let addr = scripted(vec![
            (b"d1 LOGIN alice {5}\r\n", b"+ OK\r\n"),
            ("p\u{e4}ss\r\n".as_bytes(), b"d1 OK Logged in\r\n"),
            (
                b"d2 SELECT INBOX\r\n",
                b"* FLAGS (\\Seen)\r\n* 3 EXISTS\r\n* OK [UIDVALIDITY 77] UIDs valid\r\nd2 OK [READ-WRITE] Select completed\r\n",
            ),
            (
                b"d3 UID FETCH 1:* (UID BODY.PEEK[HEADER.FIELDS (X-Drlab-Seq)])\r\n",
                b"* 1 FETCH (UID 1 BODY[HEADER.FIELDS (X-DRLAB-SEQ)] {18}\r\nX-Drlab-Seq: 0\r\n\r\n)\r\n\
* 2 FETCH (UID 2 BODY[HEADER.FIELDS (X-DRLAB-SEQ)] {2}\r\n\r\n)\r\n\
* 3 FETCH (UID 3 BODY[HEADER.FIELDS (X-DRLAB-SEQ)] {19}\r\nX-Drlab-Seq: 12\r\n\r\n)\r\n\
d3 OK Fetch completed\r\n",
            ),
            (b"d4 LOGOUT\r\n", b"* BYE Logging out\r\nd4 OK Logout completed\r\n"),
        ])
        .await;
        let mut s = ImapSession::connect(addr, ImapLimits::default())
            .await
            .unwrap();
        s.login("alice", &Secret::new("p\u{e4}ss")).await.unwrap();
        let sel = s.select("INBOX").await.unwrap();
        assert_eq!(
            sel,
            Selected {
                exists: 3,
                uid_validity: Some(77)
            }
        );
        let seqs = s.seq_numbers().await.unwrap();
        assert_eq!(seqs.iter().collect::<Vec<_>>(), vec![0, 12]);
        s.logout().await.unwrap();
    }

    #[tokio::test]
    async fn failed_login_never_shows_the_password() {
        let addr = scripted(vec![(
            b"d1 LOGIN alice \"hunter 2\"\r\n",
            b"d1 NO [AUTHENTICATIONFAILED] bad password hunter 2\r\n",
        )])
        .await;
        let mut s = ImapSession::connect(addr, ImapLimits::default())
            .await
            .unwrap();
        let e = s
            .login("alice", &Secret::new("hunter 2"))
            .await
            .unwrap_err();
        let shown = format!("{e} {e:?}");
        assert!(!shown.contains("hunter 2"), "{shown}");
        assert!(matches!(e, ImapError::No { .. }));
        assert_eq!(OpError::from(e).kind(), drlab_drivers::ErrorKind::Refused);
    }

    #[tokio::test]
    async fn limits_are_enforced() {
        let addr = scripted(vec![(
            b"d1 SELECT INBOX\r\n",
            b"* 1 FETCH (BODY[] {999}\r\n",
        )])
        .await;
        let limits = ImapLimits {
            literal_bytes_max: 100,
            ..ImapLimits::default()
        };
        let mut s = ImapSession::connect(addr, limits).await.unwrap();
        let e = s.select("INBOX").await.unwrap_err();
        assert!(
            matches!(
                e,
                ImapError::Limit {
                    what: "a literal",
                    ..
                }
            ),
            "{e}"
        );

        let addr = scripted(vec![(b"d1 SELECT INBOX\r\n", b"* 1 EXISTS\r\n")]).await;
        let limits = ImapLimits {
            exchange_timeout_ms: 100,
            ..ImapLimits::default()
        };
        let mut s = ImapSession::connect(addr, limits).await.unwrap();
        let e = s.select("INBOX").await.unwrap_err();
        assert!(
            matches!(
                e,
                ImapError::Timeout {
                    stage: "SELECT",
                    after_ms: 100
                }
            ),
            "{e}"
        );
    }

    #[tokio::test]
    async fn bye_greeting_is_a_refusal() {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap();
        tokio::spawn(async move {
            let (mut s, _) = l.accept().await.unwrap();
            s.write_all(b"* BYE too many connections\r\n")
                .await
                .unwrap();
        });
        let e = ImapSession::connect(addr, ImapLimits::default())
            .await
            .err()
            .unwrap();
        assert!(matches!(e, ImapError::Bye { .. }), "{e}");
    }
}
