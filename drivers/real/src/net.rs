//! The transport seam of the protocol clients: where the SMTP, IMAP and DNS
//! clients get their sockets. The real path is [`TokioNet`] (tokio's
//! `TcpStream` and `UdpSocket`, exactly what the clients opened before the
//! seam existed); a test implements [`Net`] over a simulated network
//! (turmoil's, in `tests/turmoil_*.rs`) and drives the unchanged protocol
//! code through latency, loss, partitions and crashes.
//!
//! The seam is a type parameter, not a trait object: every client that
//! opens sockets is generic over `N: Net` with `TokioNet` as the default
//! (`Resolver<N = TokioNet>`, `SmtpSession<N = TokioNet>`, ...), and the
//! functions that existed before keep their signatures and call their
//! `*_via` twin with `&TokioNet`. Time limits stay `tokio::time` timers,
//! so a simulation whose runtime has a paused clock measures them in
//! simulated time.
//!
//! What a transport provides is deliberately small: a connected TCP byte
//! stream, and a UDP socket that exchanges datagrams with one server and
//! hands back only that server's datagrams (as a connected socket does).

use std::fmt::Debug;
use std::future::Future;
use std::io;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};

use tokio::io::{AsyncRead, AsyncWrite};

/// Opens the connections and sockets a protocol client uses.
pub trait Net: Clone + Debug + Send + Sync + 'static {
    /// A connected TCP stream (`Sync` too: lettre keeps its stream as a
    /// `Box<dyn AsyncTokioStream>`, which is).
    type Tcp: AsyncRead + AsyncWrite + Unpin + Send + Sync + 'static;
    /// A UDP socket bound to an ephemeral port and connected to one server.
    type Udp: Datagrams;

    /// Opens a TCP connection to `addr` (no time limit: the caller has one).
    fn tcp_connect(&self, addr: SocketAddr) -> impl Future<Output = io::Result<Self::Tcp>> + Send;

    /// Binds a UDP socket on an ephemeral port of the unspecified address
    /// of `server`'s family and connects it to `server`.
    fn udp_connect(&self, server: SocketAddr)
    -> impl Future<Output = io::Result<Self::Udp>> + Send;
}

/// Datagrams exchanged with the one server a UDP socket is connected to.
pub trait Datagrams: Send + Sync + 'static {
    /// Sends one datagram to the server.
    fn send(&self, buf: &[u8]) -> impl Future<Output = io::Result<usize>> + Send;

    /// Receives the next datagram from the server into `buf` (datagrams
    /// from any other source are not returned).
    fn recv(&self, buf: &mut [u8]) -> impl Future<Output = io::Result<usize>> + Send;
}

/// The real network, through tokio.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TokioNet;

/// The unspecified local address of `server`'s family, port 0.
pub fn unspecified_for(server: SocketAddr) -> SocketAddr {
    if server.is_ipv4() {
        (Ipv4Addr::UNSPECIFIED, 0).into()
    } else {
        (Ipv6Addr::UNSPECIFIED, 0).into()
    }
}

impl Net for TokioNet {
    type Tcp = tokio::net::TcpStream;
    type Udp = tokio::net::UdpSocket;

    async fn tcp_connect(&self, addr: SocketAddr) -> io::Result<tokio::net::TcpStream> {
        let s = tokio::net::TcpStream::connect(addr).await?;
        // small request/response exchanges: do not wait for Nagle
        let _ = s.set_nodelay(true);
        Ok(s)
    }

    async fn udp_connect(&self, server: SocketAddr) -> io::Result<tokio::net::UdpSocket> {
        let sock = tokio::net::UdpSocket::bind(unspecified_for(server)).await?;
        // a connected socket only receives datagrams from the server
        sock.connect(server).await?;
        Ok(sock)
    }
}

impl Datagrams for tokio::net::UdpSocket {
    async fn send(&self, buf: &[u8]) -> io::Result<usize> {
        tokio::net::UdpSocket::send(self, buf).await
    }

    async fn recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        tokio::net::UdpSocket::recv(self, buf).await
    }
}

/// A transport for unit tests whose one connection is the client half of
/// a duplex pipe: the test plays the server on the other half.
#[cfg(test)]
#[derive(Clone, Debug)]
pub(crate) struct Pipe(std::sync::Arc<std::sync::Mutex<Option<tokio::io::DuplexStream>>>);

#[cfg(test)]
impl Pipe {
    pub(crate) fn new(client: tokio::io::DuplexStream) -> Pipe {
        Pipe(std::sync::Arc::new(std::sync::Mutex::new(Some(client))))
    }
}

#[cfg(test)]
impl Net for Pipe {
    type Tcp = tokio::io::DuplexStream;
    type Udp = tokio::net::UdpSocket;

    async fn tcp_connect(&self, _: SocketAddr) -> io::Result<tokio::io::DuplexStream> {
        let taken = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take();
        taken.ok_or_else(|| io::ErrorKind::ConnectionRefused.into())
    }

    async fn udp_connect(&self, _: SocketAddr) -> io::Result<tokio::net::UdpSocket> {
        Err(io::ErrorKind::Unsupported.into())
    }
}
