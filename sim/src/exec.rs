//! The simulator's executor: one root future polled on the calling thread,
//! and a virtual clock that jumps straight to the next timer when nothing is
//! ready. Idle time costs nothing; there are no ticks, threads or wall clock.
//!
//! Determinism: the root future is a fixed composition of `join`/`select`
//! combinators polled in a fixed order, timers fire in (deadline, insertion)
//! order, and nothing here reads the environment.

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::pin::{Pin, pin};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll, Wake, Waker};
use std::time::Duration;

use drlab_drivers::Timestamp;

/// A pending timer: fires at `deadline`; `seq` breaks ties in insertion order.
#[derive(Debug)]
struct Timer {
    deadline: u64,
    seq: u64,
    waker: Waker,
}

impl PartialEq for Timer {
    fn eq(&self, other: &Self) -> bool {
        (self.deadline, self.seq) == (other.deadline, other.seq)
    }
}
impl Eq for Timer {}
impl PartialOrd for Timer {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Timer {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (self.deadline, self.seq).cmp(&(other.deadline, other.seq))
    }
}

/// The virtual clock and its timer queue.
#[derive(Debug, Default)]
pub struct VirtualClock {
    now: Cell<u64>,
    /// Pending timers sorted latest first, so the next one pops off the end.
    /// A sorted vector beats a heap here: a drill has a few dozen timers.
    timers: RefCell<Vec<Timer>>,
    next_seq: Cell<u64>,
    timer_fires: Cell<u64>,
}

impl VirtualClock {
    /// A clock at drill time zero.
    pub fn new() -> VirtualClock {
        VirtualClock::default()
    }

    /// Current drill time.
    pub fn now(&self) -> Timestamp {
        Timestamp(self.now.get())
    }

    /// A future that completes `d` from now.
    pub fn sleep(&self, d: Duration) -> Sleep<'_> {
        let deadline = self.now().after(d).as_micros();
        Sleep {
            clock: self,
            deadline,
            registered: false,
        }
    }

    /// A future that completes at `t` (at once if `t` is past).
    pub fn sleep_until(&self, t: Timestamp) -> Sleep<'_> {
        Sleep {
            clock: self,
            deadline: t.as_micros(),
            registered: false,
        }
    }

    /// How many times the clock advanced to a timer (a cost measure for benchmarks).
    pub fn timer_fires(&self) -> u64 {
        self.timer_fires.get()
    }

    fn register(&self, deadline: u64, waker: &Waker) {
        let seq = self.next_seq.get();
        self.next_seq.set(seq + 1);
        let mut timers = self.timers.borrow_mut();
        // Equal deadlines keep insertion order: the later seq sorts earlier.
        let at = timers.partition_point(|t| (t.deadline, t.seq) > (deadline, seq));
        timers.insert(
            at,
            Timer {
                deadline,
                seq,
                waker: waker.clone(),
            },
        );
    }

    /// Advances to the earliest timer and wakes every timer due then, in
    /// insertion order. False when no timer is pending.
    fn advance(&self) -> bool {
        let Some(first) = self.timers.borrow_mut().pop() else {
            return false;
        };
        let at = first.deadline.max(self.now.get());
        self.now.set(at);
        self.timer_fires.set(self.timer_fires.get() + 1);
        first.waker.wake();
        loop {
            // The borrow ends before each wake.
            let next = {
                let mut timers = self.timers.borrow_mut();
                if timers.last().is_some_and(|t| t.deadline <= at) {
                    timers.pop()
                } else {
                    None
                }
            };
            match next {
                Some(t) => t.waker.wake(),

                None => return true,
            }
        }
    }
}

/// Completes when the virtual clock reaches its deadline.
#[derive(Debug)]
pub struct Sleep<'a> {
    clock: &'a VirtualClock,
    deadline: u64,
    registered: bool,
}

impl Future for Sleep<'_> {
    type Output = ();
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.clock.now.get() >= self.deadline {
            return Poll::Ready(());
        }
        if !self.registered {
            self.registered = true;
            self.clock.register(self.deadline, cx.waker());
        }
        Poll::Pending
    }
}

/// Why a simulation could not finish.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ExecError {
    /// The root future waits, nothing wakes it and no timer is pending: a bug
    /// in a runbook or in the model (a wait on something that cannot happen).
    #[error("simulation stalled at {at}: nothing ready and no timer pending")]
    Stalled {
        /// Drill time of the stall.
        at: Timestamp,
    },
    /// The run recorded as many events as its budget allows
    /// (`scenario.events_max`): its trace would be incomplete.
    #[error(
        "the run exceeded its event budget of {events_max} events at {at} \
         (scenario.events_max; see the format's Bounds)"
    )]
    EventBudget {
        /// The budget.
        events_max: u64,
        /// Drill time when it was reached.
        at: Timestamp,
    },
    /// The poll budget ran out (a runaway loop that never lets time pass).
    #[error("simulation exceeded {polls_max} polls at {at}")]
    PollBudget {
        /// The limit.
        polls_max: u64,
        /// Drill time when it was hit.
        at: Timestamp,
    },
}

struct Flag(AtomicBool);

impl Wake for Flag {
    fn wake(self: Arc<Self>) {
        self.0.store(true, Ordering::Relaxed);
    }
    fn wake_by_ref(self: &Arc<Self>) {
        self.0.store(true, Ordering::Relaxed);
    }
}

/// Runs `fut` to completion on `clock`. Polls at most `polls_max` times.
///
/// The root is polled whenever something woke it; when nothing did, the
/// clock jumps to the next timer and wakes its owner.
pub fn block_on<F: Future>(
    clock: &VirtualClock,
    fut: F,
    polls_max: u64,
) -> Result<F::Output, ExecError> {
    let flag = Arc::new(Flag(AtomicBool::new(true)));
    let waker = Waker::from(flag.clone());
    let mut cx = Context::from_waker(&waker);
    let mut fut = pin!(fut);
    let mut polls = 0u64;
    loop {
        if flag.0.swap(false, Ordering::Relaxed) {
            polls += 1;
            if polls > polls_max {
                return Err(ExecError::PollBudget {
                    polls_max,
                    at: clock.now(),
                });
            }
            if let Poll::Ready(out) = fut.as_mut().poll(&mut cx) {
                return Ok(out);
            }
            continue;
        }
        if !clock.advance() {
            return Err(ExecError::Stalled { at: clock.now() });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::future::join;

    #[test]
    fn idle_time_is_free_and_exact() {
        let c = VirtualClock::new();
        let out = block_on(
            &c,
            async {
                c.sleep(Duration::from_secs(900)).await;
                c.now()
            },
            10,
        )
        .unwrap();
        assert_eq!(out, Timestamp::from_secs_f64(900.0));
        assert_eq!(c.timer_fires(), 1);
    }

    #[test]
    fn concurrent_sleeps_interleave_in_time_order() {
        let c = VirtualClock::new();
        let log = RefCell::new(Vec::new());
        let a = async {
            for _ in 0..3 {
                c.sleep(Duration::from_secs(2)).await;
                log.borrow_mut().push(("a", c.now().as_secs_f64()));
            }
        };
        let b = async {
            for _ in 0..2 {
                c.sleep(Duration::from_secs(3)).await;
                log.borrow_mut().push(("b", c.now().as_secs_f64()));
            }
        };
        block_on(&c, join(a, b), 100).unwrap();
        assert_eq!(
            log.into_inner(),
            vec![("a", 2.0), ("b", 3.0), ("a", 4.0), ("a", 6.0), ("b", 6.0)]
        );
    }

    #[test]
    fn a_wait_on_nothing_is_a_stall_not_a_hang() {
        let c = VirtualClock::new();
        let err = block_on(&c, futures::future::pending::<()>(), 10).unwrap_err();
        assert_eq!(
            err,
            ExecError::Stalled {
                at: Timestamp::ZERO
            }
        );
    }
}
