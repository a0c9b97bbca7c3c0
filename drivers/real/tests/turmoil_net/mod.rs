//! turmoil's simulated network behind the drivers' transport seam
//! (`drlab_real::net::Net`), shared by the `turmoil_*` tests: the real
//! protocol clients run unchanged inside a turmoil simulation, whose hosts
//! each have a tokio runtime with a paused clock, so every time limit and
//! cache lifetime is measured in simulated time.

use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use drlab_real::net::{Datagrams, Net, unspecified_for};

/// The simulation's network, as seen from the host the code runs on.
#[derive(Clone, Copy, Debug, Default)]
pub struct TurmoilNet;

/// A simulated UDP socket connected to one server.
pub struct SimUdp {
    sock: turmoil::net::UdpSocket,
    server: SocketAddr,
}

impl Net for TurmoilNet {
    type Tcp = turmoil::net::TcpStream;
    type Udp = SimUdp;

    async fn tcp_connect(&self, addr: SocketAddr) -> io::Result<turmoil::net::TcpStream> {
        turmoil::net::TcpStream::connect(addr).await
    }

    async fn udp_connect(&self, server: SocketAddr) -> io::Result<SimUdp> {
        let sock = turmoil::net::UdpSocket::bind(unspecified_for(server)).await?;
        // turmoil's connect filters incoming datagrams by source, as the
        // kernel does for a connected socket
        sock.connect(server).await?;
        Ok(SimUdp { sock, server })
    }
}

impl Datagrams for SimUdp {
    async fn send(&self, buf: &[u8]) -> io::Result<usize> {
        self.sock.send_to(buf, self.server).await
    }

    async fn recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            let (n, from) = self.sock.recv_from(buf).await?;
            if from == self.server {
                return Ok(n);
            }
        }
    }
}

/// One simulation tick: turmoil delivers messages between ticks, so a
/// measured duration can exceed its exact value by this much.
pub const TICK: Duration = Duration::from_millis(1);

/// A simulation that runs for at most `duration` of simulated time, with a
/// fixed seed (the runs are reproducible) and no latency unless a test
/// sets one.
pub fn sim<'a>(duration: Duration) -> turmoil::Sim<'a> {
    sim_ticking(duration, TICK)
}

/// [`sim`] with ticks of `tick` (coarser ticks make long simulated waits
/// cheap; timers still fire at their exact instant inside a tick, only
/// message delivery waits for the tick's end).
pub fn sim_ticking<'a>(duration: Duration, tick: Duration) -> turmoil::Sim<'a> {
    turmoil::Builder::new()
        .simulation_duration(duration)
        .tick_duration(tick)
        .min_message_latency(Duration::ZERO)
        .max_message_latency(Duration::ZERO)
        .rng_seed(7)
        .build()
}

/// Asserts that `took` is the limit `limit_ms` give or take the ticks the
/// simulation needs to deliver a message and run the task (`slack` ticks).
pub fn assert_took(took: Duration, limit_ms: u64, slack: u32, what: &str) {
    let limit = Duration::from_millis(limit_ms);
    assert!(
        took >= limit && took <= limit + TICK * slack,
        "{what}: took {took:?}, limit {limit:?} (+{slack} ticks)"
    );
}
