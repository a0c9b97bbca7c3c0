//! Time limits and byte budgets per protocol exchange, enforced in the
//! transport, under a protocol crate that does not offer them.
//!
//! lettre (SMTP) and async-imap (IMAP) run whole dialogues over a stream
//! they own: lettre's `connect_with_transport` reads the greeting *and*
//! sends EHLO in one call, async-imap buffers a response until it parses
//! (up to its own 512 MiB). drlab needs a limit on every exchange, the
//! stage that overran it, and a bound on what one exchange may read. So
//! the stream handed to the crate is a [`Metered`] one: before each call
//! the session [`Meter::arm`]s it with the exchanges the call makes, each
//! a stage name, a time limit and a byte budget; the stream then fails a
//! read or write that passes the current exchange's deadline with
//! `TimedOut`, or a read past its budget with `InvalidData`, and records
//! which stage it was in. The session reads the record back
//! ([`Meter::verdict`]) to turn the crate's error into drlab's.
//!
//! A budget must hold before a crate allocates: async-imap makes room for
//! an announced IMAP literal when it reads the announcement, so with
//! [`Exchange::literals`] the stream reads every `{N}` at a line's end and
//! refuses one larger than the rest of the budget before handing the
//! bytes on.
//!
//! An exchange starts when the call is armed, and the next armed exchange
//! starts at the first write after the current one has read something
//! (a reply came, the client speaks again): the greeting, then EHLO.
//! Time limits are `tokio::time` deadlines, so a simulation with a paused
//! clock (turmoil's) measures them in simulated time.

use std::collections::VecDeque;
use std::fmt;
use std::future::Future as _;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::{Instant, Sleep};

/// Most exchanges one arming may name (lettre's connect makes two).
const EXCHANGES_PER_CALL_MAX: usize = 4;

/// One exchange of a protocol dialogue.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Exchange {
    /// The stage reported when it fails, e.g. `EHLO` or `FETCH`.
    pub stage: &'static str,
    /// Time from its start to its end (the reply read).
    pub limit_ms: u64,
    /// Most bytes its replies may take.
    pub bytes_max: u64,
    /// Whether the replies may announce IMAP literals (`{N}` or `{N+}` at
    /// the end of a line, RFC 3501 §4.3, RFC 7888): async-imap makes room
    /// for an announced literal before its bytes arrive, so an
    /// announcement past the rest of the budget is refused on sight.
    pub literals: bool,
}

/// How the current call ended, as far as the stream saw it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// Nothing went wrong in the stream (the crate's error, if any, is
    /// the server's answer or a parse failure).
    Clean {
        /// The stage the call was in when it returned.
        stage: &'static str,
    },
    /// A read or write passed the deadline of `stage`.
    TimedOut {
        /// The exchange that overran.
        stage: &'static str,
        /// Its limit.
        after_ms: u64,
    },
    /// The replies of `stage` passed its byte budget.
    OverBudget {
        /// The exchange.
        stage: &'static str,
        /// Its budget.
        bytes_max: u64,
    },
    /// The peer closed the connection during `stage`.
    Closed {
        /// The exchange.
        stage: &'static str,
    },
    /// A socket error during `stage`.
    Io {
        /// The exchange.
        stage: &'static str,
        /// The error's kind.
        kind: io::ErrorKind,
        /// Its text.
        text: String,
    },
}

#[derive(Debug)]
struct State {
    current: Exchange,
    next: VecDeque<Exchange>,
    deadline: Instant,
    read_bytes: u64,
    read_since_start: bool,
    literal: Literal,
    verdict: Option<Verdict>,
}

/// Where the reader is in a possible literal announcement `{N}` / `{N+}`
/// followed by CRLF (it spans reads).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
enum Literal {
    /// Not in one.
    #[default]
    Out,
    /// After `{` and these digits' value.
    Digits(u64),
    /// After `+`.
    Plus(u64),
    /// After `}`.
    Closed(u64),
    /// After `}` and CR.
    Cr(u64),
}

impl Literal {
    /// The state after byte `c`, and the size of a literal whose
    /// announcement `c` completes.
    fn next(self, c: u8) -> (Literal, Option<u64>) {
        use Literal::*;
        match (self, c) {
            (_, b'{') => (Digits(0), None),
            (Digits(n), b'0'..=b'9') => {
                // saturates: a size past u64 is past every budget
                let n = n.saturating_mul(10).saturating_add(u64::from(c - b'0'));
                (Digits(n), None)
            }
            (Digits(n), b'+') => (Plus(n), None),
            (Digits(n) | Plus(n), b'}') => (Closed(n), None),
            (Closed(n), b'\r') => (Cr(n), None),
            (Cr(n), b'\n') => (Out, Some(n)),
            _ => (Out, None),
        }
    }
}

/// The session's handle on a [`Metered`] stream.
#[derive(Clone, Debug)]
pub(crate) struct Meter(Arc<Mutex<State>>);

impl Meter {
    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        // the lock is never held across a panic point that matters: a
        // poisoned state is still the last one written
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Starts a call that makes `exchanges` in turn (at least one).
    pub fn arm(&self, exchanges: &[Exchange]) {
        assert!(
            !exchanges.is_empty() && exchanges.len() <= EXCHANGES_PER_CALL_MAX,
            "a call makes 1..={EXCHANGES_PER_CALL_MAX} exchanges"
        );
        let mut s = self.state();
        s.next = exchanges[1..].iter().copied().collect();
        start(&mut s, exchanges[0]);
        s.verdict = None;
    }

    /// The stage the call armed last is in.
    pub fn stage(&self) -> &'static str {
        self.state().current.stage
    }

    /// What the stream saw of the call armed last.
    pub fn verdict(&self) -> Verdict {
        let s = self.state();
        s.verdict.clone().unwrap_or(Verdict::Clean {
            stage: s.current.stage,
        })
    }
}

fn start(s: &mut State, e: Exchange) {
    s.current = e;
    s.deadline = Instant::now() + Duration::from_millis(e.limit_ms);
    s.read_bytes = 0;
    s.read_since_start = false;
    s.literal = Literal::Out;
}

/// A stream whose exchanges are limited by its [`Meter`].
pub(crate) struct Metered<S> {
    inner: S,
    meter: Meter,
    peer: SocketAddr,
    sleep: Pin<Box<Sleep>>,
}

impl<S> fmt::Debug for Metered<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Metered").field("peer", &self.peer).finish()
    }
}

impl<S> Metered<S> {
    /// Wraps `inner`, connected to `peer`, armed with `first` (e.g. the
    /// greeting).
    pub fn new(inner: S, peer: SocketAddr, first: Exchange) -> (Metered<S>, Meter) {
        let deadline = Instant::now() + Duration::from_millis(first.limit_ms);
        let meter = Meter(Arc::new(Mutex::new(State {
            current: first,
            next: VecDeque::new(),
            deadline,
            read_bytes: 0,
            read_since_start: false,
            literal: Literal::Out,
            verdict: None,
        })));
        let m = Metered {
            inner,
            meter: meter.clone(),
            peer,
            sleep: Box::pin(tokio::time::sleep_until(deadline)),
        };
        (m, meter)
    }

    /// The peer's address (lettre asks for it).
    pub fn peer(&self) -> SocketAddr {
        self.peer
    }

    /// `Pending` until the current deadline, then the timeout error.
    fn wait_deadline(&mut self, cx: &mut Context<'_>) -> Poll<io::Error> {
        let (deadline, stage, limit_ms) = {
            let s = self.meter.state();
            (s.deadline, s.current.stage, s.current.limit_ms)
        };
        if self.sleep.deadline() != deadline {
            self.sleep.as_mut().reset(deadline);
        }
        match self.sleep.as_mut().poll(cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(()) => {
                self.record(Verdict::TimedOut {
                    stage,
                    after_ms: limit_ms,
                });
                Poll::Ready(io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!("{stage} timed out after {limit_ms} ms"),
                ))
            }
        }
    }

    /// Keeps the first thing that went wrong in the call.
    fn record(&self, v: Verdict) {
        self.meter.state().verdict.get_or_insert(v);
    }

    fn io_error(&self, e: &io::Error) {
        let stage = self.meter.state().current.stage;
        self.record(Verdict::Io {
            stage,
            kind: e.kind(),
            text: e.to_string(),
        });
    }
}

/// The largest literal the bytes just read announce (0 if none), the
/// announcement state carried in `s`.
fn largest_literal(s: &mut State, bytes: &[u8]) -> u64 {
    let mut largest = 0;
    for &c in bytes {
        let (next, size) = s.literal.next(c);
        s.literal = next;
        largest = largest.max(size.unwrap_or(0));
    }
    largest
}

impl<S: AsyncRead + Unpin> AsyncRead for Metered<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let me = self.get_mut();
        let before = buf.filled().len();
        match Pin::new(&mut me.inner).poll_read(cx, buf) {
            Poll::Ready(Ok(())) => {
                let n = (buf.filled().len() - before) as u64;
                let mut s = me.meter.state();
                if n == 0 {
                    let stage = s.current.stage;
                    drop(s);
                    me.record(Verdict::Closed { stage });
                    return Poll::Ready(Ok(()));
                }
                s.read_bytes += n;
                s.read_since_start = true;
                let announced = if s.current.literals {
                    largest_literal(&mut s, &buf.filled()[before..])
                } else {
                    0
                };
                let rest = s.current.bytes_max.saturating_sub(s.read_bytes);
                if s.read_bytes > s.current.bytes_max || announced > rest {
                    let (stage, bytes_max) = (s.current.stage, s.current.bytes_max);
                    drop(s);
                    me.record(Verdict::OverBudget { stage, bytes_max });
                    return Poll::Ready(Err(io::Error::new(
                        io::ErrorKind::InvalidData,
                        format!("{stage}: replies longer than {bytes_max} bytes"),
                    )));
                }
                Poll::Ready(Ok(()))
            }
            Poll::Ready(Err(e)) => {
                me.io_error(&e);
                Poll::Ready(Err(e))
            }
            Poll::Pending => me.wait_deadline(cx).map(Err),
        }
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Metered<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let me = self.get_mut();
        {
            // the client speaks again after a reply: the next exchange
            let mut s = me.meter.state();
            if s.read_since_start
                && let Some(next) = s.next.pop_front()
            {
                start(&mut s, next);
            }
        }
        match Pin::new(&mut me.inner).poll_write(cx, buf) {
            Poll::Ready(Err(e)) => {
                me.io_error(&e);
                Poll::Ready(Err(e))
            }
            Poll::Pending => me.wait_deadline(cx).map(Err),
            ready => ready,
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let me = self.get_mut();
        match Pin::new(&mut me.inner).poll_flush(cx) {
            Poll::Ready(Err(e)) => {
                me.io_error(&e);
                Poll::Ready(Err(e))
            }
            Poll::Pending => me.wait_deadline(cx).map(Err),
            ready => ready,
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    fn ex(stage: &'static str, limit_ms: u64) -> Exchange {
        Exchange {
            stage,
            limit_ms,
            bytes_max: 16,
            literals: true,
        }
    }

    fn rt() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .start_paused(true)
            .build()
            .unwrap()
    }

    fn peer() -> SocketAddr {
        "127.0.0.1:25".parse().unwrap()
    }

    #[test]
    fn a_silent_peer_times_out_the_current_exchange() {
        rt().block_on(async {
            let (client, mut server) = tokio::io::duplex(64);
            let (mut m, meter) = Metered::new(client, peer(), ex("greeting", 300));
            meter.arm(&[ex("greeting", 300), ex("EHLO", 500)]);
            server.write_all(b"220 hi\r\n").await.unwrap();
            let mut buf = [0u8; 8];
            m.read_exact(&mut buf).await.unwrap();
            // the client speaks: EHLO's 500 ms start now
            let t0 = Instant::now();
            m.write_all(b"EHLO x\r\n").await.unwrap();
            let e = m.read(&mut buf).await.unwrap_err();
            assert_eq!(e.kind(), io::ErrorKind::TimedOut);
            assert_eq!(t0.elapsed(), Duration::from_millis(500));
            assert_eq!(
                meter.verdict(),
                Verdict::TimedOut {
                    stage: "EHLO",
                    after_ms: 500
                }
            );
        });
    }

    #[test]
    fn replies_past_the_budget_fail_and_closing_is_recorded() {
        rt().block_on(async {
            let (client, mut server) = tokio::io::duplex(64);
            let (mut m, meter) = Metered::new(client, peer(), ex("FETCH", 1_000));
            server.write_all(&[b'x'; 20]).await.unwrap();
            let mut buf = [0u8; 32];
            let e = m.read(&mut buf).await.unwrap_err();
            assert_eq!(e.kind(), io::ErrorKind::InvalidData);
            assert_eq!(
                meter.verdict(),
                Verdict::OverBudget {
                    stage: "FETCH",
                    bytes_max: 16
                }
            );
            meter.arm(&[ex("LOGOUT", 1_000)]);
            assert_eq!(meter.verdict(), Verdict::Clean { stage: "LOGOUT" });
            drop(server);
            assert_eq!(m.read(&mut buf).await.unwrap(), 0);
            assert_eq!(meter.verdict(), Verdict::Closed { stage: "LOGOUT" });
        });
    }

    #[test]
    fn a_literal_announced_past_the_budget_is_refused_before_its_bytes() {
        rt().block_on(async {
            let (client, mut server) = tokio::io::duplex(64);
            let (mut m, meter) = Metered::new(client, peer(), ex("FETCH", 1_000));
            let mut buf = [0u8; 8];
            // within the budget: 5 bytes announced, 6 read, 5 left
            server.write_all(b"x {5}\r\n").await.unwrap();
            m.read_exact(&mut buf[..7]).await.unwrap();
            assert_eq!(meter.verdict(), Verdict::Clean { stage: "FETCH" });
            // an announcement split across reads, past the rest
            server.write_all(b"{1").await.unwrap();
            m.read_exact(&mut buf[..2]).await.unwrap();
            server.write_all(b"0+}\r\n").await.unwrap();
            let e = m.read(&mut buf).await.unwrap_err();
            assert_eq!(e.kind(), io::ErrorKind::InvalidData);
            assert!(matches!(
                meter.verdict(),
                Verdict::OverBudget { stage: "FETCH", .. }
            ));
        });
    }

    #[test]
    fn announcements_are_read_only_where_literals_may_come() {
        let mut state = Literal::Out;
        let mut sizes = Vec::new();
        for &c in b"* 1 FETCH (BODY[] {12}\r\n{3} {x}\r\n{99999999999999999999999}\r\n" {
            let (next, size) = state.next(c);
            state = next;
            sizes.extend(size);
        }
        assert_eq!(sizes, [12, u64::MAX]);
    }
}
