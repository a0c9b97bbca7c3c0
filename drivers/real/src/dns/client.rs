//! DNS over the network: one request, one response, over UDP with a retry,
//! and over TCP when the UDP answer is truncated (RFC 1035 §4.2.1; RFC 7766
//! §5 makes TCP fallback mandatory for clients), with a time limit on every
//! exchange. Queries and RFC 2136 updates both go through [`exchange`].
//!
//! Sockets come from a [`Net`] (see [`crate::net`]): each function that
//! talks to a server has a `*_via` twin taking the transport; the plain one
//! uses the real network ([`TokioNet`]).

use std::net::SocketAddr;
use std::time::Duration;

use drlab_drivers::types::{DnsRecord, RecordType};
use hickory_proto::op::{Message, ResponseCode};
use hickory_proto::rr::RecordType as HRecordType;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::message::{QueryResponse, build_query, hickory_type, message_id, parse_response};
use super::update::{self, AddPrereq, TsigKey, check_response, rcode_name};
use super::{DnsError, fresh_id};
use crate::net::{Datagrams, Net, TokioNet};

/// Limits of one DNS exchange.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DnsLimits {
    /// Wait for a UDP response, per attempt.
    pub udp_timeout_ms: u64,
    /// UDP attempts before giving up (RFC 1035 §4.2.1 leaves retransmission
    /// to the client; 2 covers one lost datagram).
    pub udp_attempts: u32,
    /// Limit on connecting over TCP and on the whole TCP exchange.
    pub tcp_timeout_ms: u64,
    /// Largest response accepted (a TCP message is at most 65535 bytes).
    pub response_bytes_max: usize,
}

impl Default for DnsLimits {
    fn default() -> DnsLimits {
        DnsLimits {
            udp_timeout_ms: 1_000,
            udp_attempts: 2,
            tcp_timeout_ms: 3_000,
            response_bytes_max: 65_535,
        }
    }
}

fn io(server: SocketAddr) -> impl Fn(std::io::Error) -> DnsError {
    move |source| DnsError::Io { server, source }
}

/// Sends `request` (whose ID is `id`) and returns the raw response: over UDP
/// first, then over TCP if the UDP response has the TC bit. Datagrams whose
/// ID does not match are dropped (RFC 5452 §9.1), not taken as the answer.
pub async fn exchange(
    server: SocketAddr,
    request: &[u8],
    id: u16,
    what: &str,
    limits: DnsLimits,
) -> Result<Vec<u8>, DnsError> {
    exchange_via(&TokioNet, server, request, id, what, limits).await
}

/// [`exchange`] over the transport `net`.
pub async fn exchange_via<N: Net>(
    net: &N,
    server: SocketAddr,
    request: &[u8],
    id: u16,
    what: &str,
    limits: DnsLimits,
) -> Result<Vec<u8>, DnsError> {
    let resp = exchange_udp(net, server, request, id, what, limits).await?;
    // TC is bit 1 of the third header byte (RFC 1035 §4.1.1)
    if resp.get(2).is_some_and(|b| b & 0x02 != 0) {
        return exchange_tcp(net, server, request, id, what, limits).await;
    }
    Ok(resp)
}

async fn exchange_udp<N: Net>(
    net: &N,
    server: SocketAddr,
    request: &[u8],
    id: u16,
    what: &str,
    limits: DnsLimits,
) -> Result<Vec<u8>, DnsError> {
    // connected: only the server's datagrams come back
    let sock = net.udp_connect(server).await.map_err(io(server))?;
    let mut buf = vec![0u8; limits.response_bytes_max.min(65_535)];
    for _ in 0..limits.udp_attempts.max(1) {
        sock.send(request).await.map_err(io(server))?;
        let deadline = tokio::time::Instant::now() + Duration::from_millis(limits.udp_timeout_ms);
        loop {
            match tokio::time::timeout_at(deadline, sock.recv(&mut buf)).await {
                Err(_) => break, // this attempt timed out: retransmit
                // e.g. ICMP port unreachable (ConnectionRefused): nothing listens
                Ok(Err(e)) => return Err(DnsError::Io { server, source: e }),
                Ok(Ok(n)) if message_id(&buf[..n]) == Some(id) => return Ok(buf[..n].to_vec()),
                Ok(Ok(_)) => {} // a stale or forged datagram: keep waiting
            }
        }
    }
    Err(DnsError::Timeout {
        what: what.to_string(),
        server,
        after_ms: limits.udp_timeout_ms * u64::from(limits.udp_attempts.max(1)),
    })
}

async fn exchange_tcp<N: Net>(
    net: &N,
    server: SocketAddr,
    request: &[u8],
    id: u16,
    what: &str,
    limits: DnsLimits,
) -> Result<Vec<u8>, DnsError> {
    let len = u16::try_from(request.len()).map_err(|_| DnsError::Encode {
        detail: format!(
            "request of {} bytes does not fit a TCP DNS message",
            request.len()
        ),
    })?;
    let fut = async {
        let mut s = net.tcp_connect(server).await.map_err(io(server))?;
        // RFC 1035 §4.2.2: each message is prefixed by a two-byte length
        let mut framed = Vec::with_capacity(request.len() + 2);
        framed.extend_from_slice(&len.to_be_bytes());
        framed.extend_from_slice(request);
        s.write_all(&framed).await.map_err(io(server))?;
        loop {
            let n = s.read_u16().await.map_err(io(server))? as usize;
            if n > limits.response_bytes_max {
                return Err(DnsError::BadResponse {
                    server,
                    detail: format!(
                        "response of {n} bytes exceeds the {} byte limit",
                        limits.response_bytes_max
                    ),
                });
            }
            let mut buf = vec![0u8; n];
            s.read_exact(&mut buf).await.map_err(io(server))?;
            if message_id(&buf) == Some(id) {
                return Ok(buf);
            }
        }
    };
    tokio::time::timeout(Duration::from_millis(limits.tcp_timeout_ms), fut)
        .await
        .map_err(|_| DnsError::Timeout {
            what: format!("{what} (TCP)"),
            server,
            after_ms: limits.tcp_timeout_ms,
        })?
}

/// Asks `server` for `name`/`rtype` (recursion desired, as a stub resolver
/// does) and returns its response, whatever the response code.
pub async fn query(
    server: SocketAddr,
    name: &str,
    rtype: HRecordType,
    limits: DnsLimits,
) -> Result<QueryResponse, DnsError> {
    query_via(&TokioNet, server, name, rtype, limits).await
}

/// [`query`] over the transport `net`.
pub async fn query_via<N: Net>(
    net: &N,
    server: SocketAddr,
    name: &str,
    rtype: HRecordType,
    limits: DnsLimits,
) -> Result<QueryResponse, DnsError> {
    let id = fresh_id();
    let req = build_query(id, name, rtype, true)?;
    let what = format!("query {name} {rtype}");
    let resp = exchange_via(net, server, &req, id, &what, limits).await?;
    parse_response(server, &resp, id, name, rtype)
}

/// The records of type `rtype` a server holds for `name`, as drlab's
/// `Dns::query_server` wants them: empty for NXDOMAIN or no data, an error
/// for any other failure.
pub async fn query_records(
    server: SocketAddr,
    name: &str,
    rtype: RecordType,
    limits: DnsLimits,
) -> Result<Vec<DnsRecord>, DnsError> {
    Ok(query_answer(server, name, rtype, limits).await?.0)
}

/// [`query_records`] with, for an empty answer, the negative-caching TTL
/// its authority SOA gives (RFC 2308 §5), for a client resolver's cache.
pub async fn query_answer(
    server: SocketAddr,
    name: &str,
    rtype: RecordType,
    limits: DnsLimits,
) -> Result<(Vec<DnsRecord>, Option<u32>), DnsError> {
    query_answer_via(&TokioNet, server, name, rtype, limits).await
}

/// [`query_answer`] over the transport `net`.
pub async fn query_answer_via<N: Net>(
    net: &N,
    server: SocketAddr,
    name: &str,
    rtype: RecordType,
    limits: DnsLimits,
) -> Result<(Vec<DnsRecord>, Option<u32>), DnsError> {
    let r = query_via(net, server, name, hickory_type(rtype), limits).await?;
    match r.rcode {
        ResponseCode::NoError | ResponseCode::NXDomain => Ok((r.of_type(rtype), r.negative_ttl_s)),
        ResponseCode::Refused => Err(DnsError::Refused {
            what: format!("query {name} {}", rtype.as_str()),
            server,
            rcode: rcode_name(r.rcode),
            tsig_error: None,
        }),
        other => Err(DnsError::Rcode {
            what: format!("query {name} {}", rtype.as_str()),
            server,
            rcode: rcode_name(other),
        }),
    }
}

/// The zone that holds `name` on `server`: the owner of the SOA record in
/// the response to an SOA query (answer for an apex, authority section
/// otherwise; RFC 2136 §4 has update clients find the zone this way).
pub async fn find_zone(
    server: SocketAddr,
    name: &str,
    limits: DnsLimits,
) -> Result<String, DnsError> {
    find_zone_via(&TokioNet, server, name, limits).await
}

/// [`find_zone`] over the transport `net`.
pub async fn find_zone_via<N: Net>(
    net: &N,
    server: SocketAddr,
    name: &str,
    limits: DnsLimits,
) -> Result<String, DnsError> {
    let r = query_via(net, server, name, HRecordType::SOA, limits).await?;
    r.zone.ok_or_else(|| DnsError::BadResponse {
        server,
        detail: format!(
            "no SOA for {name} in the response ({})",
            rcode_name(r.rcode)
        ),
    })
}

/// Sends an RFC 2136 update, signed with `key` if given, and checks the
/// response (see [`update::check_response`]).
pub async fn send_update(
    server: SocketAddr,
    m: Message,
    key: Option<&TsigKey>,
    limits: DnsLimits,
) -> Result<(), DnsError> {
    send_update_via(&TokioNet, server, m, key, limits).await
}

/// [`send_update`] over the transport `net`.
pub async fn send_update_via<N: Net>(
    net: &N,
    server: SocketAddr,
    m: Message,
    key: Option<&TsigKey>,
    limits: DnsLimits,
) -> Result<(), DnsError> {
    let id = m.metadata.id;
    let (bytes, mut verifier) = update::encode(m, key, unix_now_s())?;
    let resp = exchange_via(net, server, &bytes, id, "update", limits).await?;
    check_response(server, &resp, id, verifier.as_mut())
}

/// Seconds since the Unix epoch: the TSIG signing time (RFC 8945 §4.3.3
/// "Time Signed"), which the server checks against its clock ± fudge.
fn unix_now_s() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Dynamic updates of one zone on one server (RFC 2136), optionally signed
/// with a TSIG key: what drlab's `Dns::add_record`/`delete_record` do on a
/// BIND, Windows (nonsecure zone) or Samba (`allow dns updates = nonsecure`)
/// server.
#[derive(Clone, Debug)]
pub struct Rfc2136Client {
    /// The primary server of the zone.
    pub server: SocketAddr,
    /// The zone, e.g. `drlab.test`.
    pub zone: String,
    /// The key updates are signed with; none sends them unsigned.
    pub key: Option<TsigKey>,
    /// Exchange limits.
    pub limits: DnsLimits,
}

impl Rfc2136Client {
    /// The same updates over the transport `net`.
    pub fn via<N: Net>(&self, net: N) -> Rfc2136Via<'_, N> {
        Rfc2136Via { client: self, net }
    }

    /// Adds a record to its RRset (idempotent; see [`AddPrereq::None`]).
    pub async fn add(&self, rec: &DnsRecord) -> Result<(), DnsError> {
        self.via(TokioNet).add(rec).await
    }

    /// Adds a record under a prerequisite.
    pub async fn add_with(&self, rec: &DnsRecord, pre: AddPrereq) -> Result<(), DnsError> {
        self.via(TokioNet).add_with(rec, pre).await
    }

    /// Replaces the RRset of `records` in one atomic update.
    pub async fn replace(&self, records: &[DnsRecord]) -> Result<(), DnsError> {
        self.via(TokioNet).replace(records).await
    }

    /// Deletes the record matching name, type and data. The RRset must
    /// exist (NXRRSET otherwise, as a [`DnsError::Prerequisite`]).
    pub async fn delete(&self, rec: &DnsRecord) -> Result<(), DnsError> {
        self.via(TokioNet).delete(rec).await
    }

    /// Deletes every record of `name`/`rtype` (no error if there is none).
    pub async fn delete_rrset(&self, name: &str, rtype: RecordType) -> Result<(), DnsError> {
        self.via(TokioNet).delete_rrset(name, rtype).await
    }

    /// Whether the zone takes this client's updates: an update that
    /// changes nothing ([`update::probe`]) answered NOERROR (true) or
    /// REFUSED (false); any other answer is the error it is.
    pub async fn takes_updates(&self) -> Result<bool, DnsError> {
        self.via(TokioNet).takes_updates().await
    }
}

/// An [`Rfc2136Client`]'s updates over a chosen transport (see
/// [`Rfc2136Client::via`]); the methods are the client's.
#[derive(Clone, Debug)]
pub struct Rfc2136Via<'a, N: Net> {
    client: &'a Rfc2136Client,
    net: N,
}

impl<N: Net> Rfc2136Via<'_, N> {
    async fn send(&self, m: Message) -> Result<(), DnsError> {
        let c = self.client;
        send_update_via(&self.net, c.server, m, c.key.as_ref(), c.limits).await
    }

    /// See [`Rfc2136Client::add`].
    pub async fn add(&self, rec: &DnsRecord) -> Result<(), DnsError> {
        self.add_with(rec, AddPrereq::None).await
    }

    /// See [`Rfc2136Client::add_with`].
    pub async fn add_with(&self, rec: &DnsRecord, pre: AddPrereq) -> Result<(), DnsError> {
        self.send(update::add(fresh_id(), &self.client.zone, rec, pre)?)
            .await
    }

    /// See [`Rfc2136Client::replace`].
    pub async fn replace(&self, records: &[DnsRecord]) -> Result<(), DnsError> {
        self.send(update::replace(fresh_id(), &self.client.zone, records)?)
            .await
    }

    /// See [`Rfc2136Client::delete`].
    pub async fn delete(&self, rec: &DnsRecord) -> Result<(), DnsError> {
        self.send(update::delete_rr(fresh_id(), &self.client.zone, rec, true)?)
            .await
    }

    /// See [`Rfc2136Client::takes_updates`].
    pub async fn takes_updates(&self) -> Result<bool, DnsError> {
        match self
            .send(update::probe(fresh_id(), &self.client.zone)?)
            .await
        {
            Ok(()) => Ok(true),
            Err(e) if e.is_policy_refusal() => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// See [`Rfc2136Client::delete_rrset`].
    pub async fn delete_rrset(&self, name: &str, rtype: RecordType) -> Result<(), DnsError> {
        self.send(update::delete_rrset(
            fresh_id(),
            &self.client.zone,
            name,
            rtype,
            false,
        )?)
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hickory_proto::op::{MessageType, OpCode};
    use tokio::net::UdpSocket;

    /// A one-shot fake server on loopback: answers the first UDP query
    /// with `udp_reply(query)` and serves TCP with `tcp_reply(query)`.
    async fn fake_server(
        udp_reply: fn(&Message) -> Vec<Vec<u8>>,
        tcp_reply: Option<fn(&Message) -> Vec<u8>>,
    ) -> SocketAddr {
        let udp = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let addr = udp.local_addr().unwrap();
        let tcp = tokio::net::TcpListener::bind(addr).await.unwrap();
        tokio::spawn(async move {
            // keep the socket open (a closed port answers with ICMP
            // port unreachable, which is a different failure)
            let mut buf = vec![0u8; 2048];
            while let Ok((n, from)) = udp.recv_from(&mut buf).await {
                let q = Message::from_vec(&buf[..n]).unwrap();
                for d in udp_reply(&q) {
                    udp.send_to(&d, from).await.unwrap();
                }
            }
        });
        if let Some(f) = tcp_reply {
            tokio::spawn(async move {
                if let Ok((mut s, _)) = tcp.accept().await {
                    let n = s.read_u16().await.unwrap() as usize;
                    let mut buf = vec![0u8; n];
                    s.read_exact(&mut buf).await.unwrap();
                    let q = Message::from_vec(&buf).unwrap();
                    let r = f(&q);
                    s.write_all(&(r.len() as u16).to_be_bytes()).await.unwrap();
                    s.write_all(&r).await.unwrap();
                }
            });
        }
        addr
    }

    fn answer(q: &Message, ip: &str, truncated: bool) -> Vec<u8> {
        let mut r = Message::new(q.metadata.id, MessageType::Response, OpCode::Query);
        r.add_queries(q.queries.clone());
        r.metadata.truncation = truncated;
        if !truncated {
            let rec = DnsRecord {
                name: "web1.drlab.test".into(),
                rtype: RecordType::A,
                data: ip.into(),
                ttl_s: 5,
            };
            r.add_answer(super::super::message::to_record(&rec).unwrap());
        }
        r.to_vec().unwrap()
    }

    #[tokio::test]
    async fn udp_answer_ignoring_a_forged_id() {
        let server = fake_server(
            |q| {
                let mut forged = Message::from_vec(&answer(q, "10.6.6.6", false)).unwrap();
                forged.metadata.id = q.metadata.id.wrapping_add(1);
                vec![forged.to_vec().unwrap(), answer(q, "10.0.0.1", false)]
            },
            None,
        )
        .await;
        let r = query_records(
            server,
            "web1.drlab.test",
            RecordType::A,
            DnsLimits::default(),
        )
        .await
        .unwrap();
        assert_eq!(r.len(), 1);
        assert_eq!(&*r[0].data, "10.0.0.1");
    }

    #[tokio::test]
    async fn truncated_udp_answer_is_reasked_over_tcp() {
        let server = fake_server(
            |q| vec![answer(q, "", true)],
            Some(|q| answer(q, "10.0.0.2", false)),
        )
        .await;
        let r = query(
            server,
            "web1.drlab.test",
            HRecordType::A,
            DnsLimits::default(),
        )
        .await
        .unwrap();
        assert!(!r.truncated);
        assert_eq!(&*r.answers[0].data, "10.0.0.2");
    }

    /// A server's answer to an update: `rcode` for an update that changes
    /// nothing, FORMERR for any other (so a probe that carried records
    /// would not read as taken).
    fn update_answer(q: &Message, rcode: hickory_proto::op::ResponseCode) -> Vec<u8> {
        let mut r = Message::new(q.metadata.id, MessageType::Response, OpCode::Update);
        r.add_queries(q.queries.clone());
        // RFC 2136 §2: prerequisites are the answer section, updates the authority section
        let empty = q.answers.is_empty() && q.authorities.is_empty() && q.additionals.is_empty();
        r.metadata.response_code = if empty && q.metadata.op_code == OpCode::Update {
            rcode
        } else {
            hickory_proto::op::ResponseCode::FormErr
        };
        r.to_vec().unwrap()
    }

    fn client_of(server: SocketAddr) -> Rfc2136Client {
        Rfc2136Client {
            server,
            zone: "corp.example.com".into(),
            key: None,
            limits: DnsLimits::default(),
        }
    }

    /// The zone's policy is the answer to an update that changes nothing:
    /// NOERROR takes, REFUSED refuses, anything else is no answer.
    #[tokio::test]
    async fn a_probe_reads_the_zones_policy_and_changes_nothing() {
        use hickory_proto::op::ResponseCode;
        let takes = fake_server(|q| vec![update_answer(q, ResponseCode::NoError)], None).await;
        assert!(client_of(takes).takes_updates().await.unwrap());
        let refuses = fake_server(|q| vec![update_answer(q, ResponseCode::Refused)], None).await;
        assert!(!client_of(refuses).takes_updates().await.unwrap());
        let broken = fake_server(|q| vec![update_answer(q, ResponseCode::ServFail)], None).await;
        let e = client_of(broken).takes_updates().await.unwrap_err();
        assert!(matches!(e, DnsError::Rcode { .. }), "{e}");
    }

    #[tokio::test]
    async fn silence_times_out_after_all_attempts() {
        let server = fake_server(|_| vec![], None).await;
        let limits = DnsLimits {
            udp_timeout_ms: 50,
            udp_attempts: 2,
            ..DnsLimits::default()
        };
        let t = std::time::Instant::now();
        let e = query(server, "web1.drlab.test", HRecordType::A, limits)
            .await
            .unwrap_err();
        assert!(matches!(e, DnsError::Timeout { after_ms: 100, .. }), "{e}");
        assert!(t.elapsed() >= Duration::from_millis(100));
    }
}
