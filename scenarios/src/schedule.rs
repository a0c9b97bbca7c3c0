//! What the drill draws before and while it runs, from the run's seed on
//! its own streams ([`crate::draws`]), never from a backend: the fault
//! schedule (each `[[faults]]` entry's time and, for a `one_of` set, which
//! fault), resolved up front by the pure [`faults`], and the workload's
//! write process ([`Writes`]): when the next write starts and how big it
//! is, and for on-off arrivals when each on period starts and ends. The
//! same scenario and seed give the same fault schedule, the same on and
//! off periods (in drill time) and the same write gaps and sizes on the
//! simulator and on the lab. The write *times* are not fixed up front:
//! each write starts a gap after the previous one started, or when that
//! one returns if it is still running, so they differ between backends
//! with each one's write latency (and the lab's late wake-ups), and every
//! later write shifts with them.

use std::time::Duration;

use drlab_drivers::Timestamp;
use drlab_drivers::types::Fault;

use crate::draws::{Draws, Stream};
use crate::format::{Arrivals, Dist, Scenario, WorkloadDef};

/// One fault of the resolved schedule.
#[derive(Clone, Debug, PartialEq)]
pub struct Scheduled {
    /// Drill time at which it takes effect, in seconds as drawn.
    pub at_s: f64,
    /// The fault.
    pub fault: Fault,
    /// The `[[faults]]` entry it comes from.
    pub entry: usize,
}

impl Scheduled {
    /// When it takes effect.
    pub fn at(&self) -> Timestamp {
        Timestamp::from_secs_f64(self.at_s)
    }
}

/// The fault schedule of `s` for `seed`, in drawn-time order (entries
/// drawn at the same time keep their file order). Each entry draws, in
/// file order, its time (unless fixed) and then its choice (unless it has
/// one), so a scenario without distributions draws nothing.
///
/// An entry drawn at or after `scenario.horizon_s` is left out: the drill
/// has ended by then, so it never takes effect, and nothing may wait for
/// it (the no-outage end comes `settle_s` after the *scheduled* last
/// fault). It still draws, so it never shifts another entry's draws. Only
/// a drawn time can fall there: a plain number must lie before the horizon.
pub fn faults(s: &Scenario, seed: u64) -> Vec<Scheduled> {
    let mut draws = Draws::new(seed, Stream::Faults);
    let horizon_s = s.scenario.horizon_s;
    let mut out: Vec<Scheduled> = s
        .faults
        .iter()
        .enumerate()
        .filter_map(|(entry, f)| {
            let at_s = draws.sample(&f.at_s).max(0.0);
            let choices = f.what.choices();
            let weights: Vec<f64> = choices.iter().map(|c| c.1).collect();
            let spec = choices[draws.pick(&weights)].0;
            (at_s < horizon_s).then(|| Scheduled {
                at_s,
                fault: crate::drill::to_fault(spec),
                entry,
            })
        })
        .collect();
    out.sort_by(|a, b| a.at_s.total_cmp(&b.at_s));
    out
}

/// The workload's write process: arrivals and sizes, drawn lazily.
#[derive(Debug, Clone)]
pub struct Writes {
    arrivals: Arrivals,
    profile: Option<Profile>,
    sizes: Dist,
    /// What a drawn size is clamped to: the range of `write_bytes`.
    size_range: (f64, f64),
    gaps: Draws,
    size_draws: Draws,
    horizon_s: f64,
    /// Bursts: start of the current burst and its writes left after this one.
    burst: (f64, u32),
    /// On-off: the on periods (`None` for the other processes, which so
    /// draw nothing on their stream).
    phases: Option<Phases>,
}

/// An on-off workload's on periods, drawn on their own stream
/// ([`Stream::Phases`]) as the drill reaches them, so another rate or
/// profile keeps a seed's periods. Durations are exponential, so the
/// remainder of a period at any moment is exponential with the same mean:
/// the drill starts in an on period with probability `on / (on + off)`
/// and then the process is stationary from its first instant.
#[derive(Debug, Clone)]
struct Phases {
    draws: Draws,
    on_mean_s: f64,
    off_mean_s: f64,
    /// The current or next on period, `[from, until)` in drill seconds.
    on: (f64, f64),
}

impl Phases {
    /// The periods of an on-off process for `seed`; `None` for another
    /// process (nothing is drawn).
    fn new(seed: u64, arrivals: Arrivals) -> Option<Phases> {
        let Arrivals::OnOff {
            on_mean_s,
            off_mean_s,
            ..
        } = arrivals
        else {
            return None;
        };
        let mut draws = Draws::new(seed, Stream::Phases);
        let from = if draws.chance(arrivals.on_share()) {
            0.0
        } else {
            exponential(&mut draws, off_mean_s)
        };
        let until = from + exponential(&mut draws, on_mean_s);
        Some(Phases {
            draws,
            on_mean_s,
            off_mean_s,
            on: (from, until),
        })
    }

    /// The on period in force at `t_s`, or else the next one, drawing the
    /// periods `t_s` has passed (off, then on). `t_s` never goes back.
    fn on_at_or_after(&mut self, t_s: f64) -> (f64, f64) {
        while self.on.1 <= t_s {
            let from = self.on.1 + exponential(&mut self.draws, self.off_mean_s);
            self.on = (from, from + exponential(&mut self.draws, self.on_mean_s));
        }
        self.on
    }
}

/// An exponential duration with mean `mean_s`.
fn exponential(draws: &mut Draws, mean_s: f64) -> f64 {
    draws.sample(&Dist::Exponential {
        exponential: mean_s,
    })
}

/// A daily change-rate profile: hourly multipliers from the drill's start hour.
#[derive(Debug, Clone, Copy)]
struct Profile {
    hourly: [f64; 24],
    start_hour: u32,
}

impl Profile {
    /// The multiplier in force at drill time `t_s`.
    fn at(&self, t_s: f64) -> f64 {
        let hour = (t_s / 3600.0).floor() as u64 + u64::from(self.start_hour);
        self.hourly[(hour % 24) as usize]
    }

    /// The drill time at which `need` writes at `rate` (per second, before
    /// the multipliers) have accrued since `from_s`; `None` past `horizon_s`.
    fn advance(&self, from_s: f64, mut need: f64, rate: f64, horizon_s: f64) -> Option<f64> {
        let mut t = from_s;
        while t < horizon_s {
            let hour_end = ((t / 3600.0).floor() + 1.0) * 3600.0;
            let per_s = rate * self.at(t);
            let here = (hour_end - t) * per_s;
            if per_s > 0.0 && here >= need {
                return Some(t + need / per_s);
            }
            need -= here;
            t = hour_end;
        }
        None
    }
}

impl Writes {
    /// The write process of `s`'s workload for `seed`.
    pub fn new(s: &Scenario, seed: u64) -> Writes {
        let w: &WorkloadDef = &s.workload;
        let size = crate::bounds::for_key("write_bytes").expect("write_bytes has a bound");
        let arrivals = w.arrivals();
        Writes {
            arrivals,
            profile: w.hourly_profile.map(|hourly| Profile {
                hourly,
                start_hour: w.start_hour.unwrap_or(0),
            }),
            sizes: w.write_bytes,
            size_range: (size.min, size.max),
            gaps: Draws::new(seed, Stream::Arrivals),
            size_draws: Draws::new(seed, Stream::Sizes),
            horizon_s: s.scenario.horizon_s,
            burst: (0.0, 0),
            phases: Phases::new(seed, arrivals),
        }
    }

    /// When the first write starts; `None`: no write before the horizon.
    pub fn first(&mut self) -> Option<Timestamp> {
        match self.arrivals {
            Arrivals::Poisson { .. } | Arrivals::OnOff { .. } => self.after(Timestamp::ZERO),
            Arrivals::Bursts { .. } => self.burst_from(0.0),
            Arrivals::Fixed { .. } => match self.profile {
                Some(p) if p.at(0.0) <= 0.0 => self.after(Timestamp::ZERO),
                _ => Some(Timestamp::ZERO),
            },
        }
    }

    /// Every write start before the horizon, in seconds, when each write
    /// returns at once: what the process alone draws, before any backend's
    /// latency (for tests and figures of the process itself).
    pub fn starts_s(mut self) -> Vec<f64> {
        let mut at = self.first();
        let mut out = Vec::new();
        // (fixed arrivals give a next start past the horizon too: the
        // drill stops at the horizon, so does this)
        while let Some(t) = at.filter(|t| t.as_secs_f64() < self.horizon_s) {
            out.push(t.as_secs_f64());
            at = self.after(t);
        }
        out
    }

    /// When the write after one that started at `started` may start: a
    /// gap (fixed or drawn) after `started`. One client writes one at a
    /// time: if the previous write is still running then, the next starts
    /// when it returns. So for one seed the gaps are the same on every
    /// backend, but `started`, and with it every later start, follows the
    /// backend's own write latency.
    pub fn after(&mut self, started: Timestamp) -> Option<Timestamp> {
        let from = started.as_secs_f64();
        match (self.arrivals, self.profile) {
            (Arrivals::Fixed { interval_ms }, None) => {
                Some(started.after(Duration::from_millis(interval_ms)))
            }
            (Arrivals::Fixed { interval_ms }, Some(p)) => {
                self.at(p.advance(from, 1.0, 1e3 / interval_ms as f64, self.horizon_s))
            }
            (Arrivals::Poisson { rate_per_s }, profile) => {
                let need = self.gaps.sample(&Dist::Exponential { exponential: 1.0 });
                let at = match profile {
                    None => Some(from + need / rate_per_s),
                    Some(p) => p.advance(from, need, rate_per_s, self.horizon_s),
                };
                self.at(at)
            }
            (Arrivals::Bursts { spacing_ms, .. }, _) if self.burst.1 > 0 => {
                self.burst.1 -= 1;
                Some(started.after(Duration::from_millis(spacing_ms)))
            }
            (Arrivals::Bursts { period_s, .. }, _) => self.burst_from(self.burst.0 + period_s),
            (Arrivals::OnOff { rate_per_s, .. }, _) => {
                let at = self.on_off_after(from, rate_per_s);
                self.at(at)
            }
        }
    }

    /// The size of the next write in bytes; a fixed size draws nothing. A
    /// drawn size is rounded to whole bytes and clamped to the range of
    /// `write_bytes` (1 B to 1 GiB); a distribution's parameters are reals.
    pub fn size(&mut self) -> u32 {
        match self.sizes {
            Dist::Fixed(x) => x as u32,
            d => {
                let (min, max) = self.size_range;
                self.size_draws.sample(&d).round().clamp(min, max) as u32
            }
        }
    }

    /// The first burst starting at or after `from_s` with writes in it
    /// (the profile scales a burst's writes, rounded).
    fn burst_from(&mut self, mut from_s: f64) -> Option<Timestamp> {
        let Arrivals::Bursts {
            writes, period_s, ..
        } = self.arrivals
        else {
            return None;
        };
        while from_s < self.horizon_s {
            let m = self.profile.map_or(1.0, |p| p.at(from_s));
            let n = (f64::from(writes) * m).round() as u32;
            if n > 0 {
                self.burst = (from_s, n - 1);
                return Some(Timestamp::from_secs_f64(from_s));
            }
            from_s += period_s;
        }
        None
    }

    /// On-off: when the write after `from_s` starts. In an on period, after
    /// a unit exponential drawn on the arrival stream and integrated over
    /// `rate` (times the profile, as for Poisson arrivals); when the on
    /// period ends first, the gap is drawn anew from the start of the next
    /// on period (the gap is memoryless, so this is exact), so no write
    /// starts in an off period. A write still running at the end of an on
    /// period may delay the next one into the off period, as it delays any
    /// write.
    fn on_off_after(&mut self, from_s: f64, rate: f64) -> Option<f64> {
        let mut t = from_s;
        while t < self.horizon_s {
            let (on_from, on_until) = self.phases.as_mut()?.on_at_or_after(t);
            t = t.max(on_from);
            if t >= self.horizon_s {
                break;
            }
            let need = self.gaps.sample(&Dist::Exponential { exponential: 1.0 });
            let end = on_until.min(self.horizon_s);
            let at = match self.profile {
                None => Some(t + need / rate),
                Some(p) => p.advance(t, need, rate, end),
            };
            if let Some(at) = at.filter(|a| *a < end) {
                return Some(at);
            }
            t = on_until;
        }
        None
    }

    /// `t_s` as a timestamp, `None` when absent or past the horizon.
    fn at(&self, t_s: Option<f64>) -> Option<Timestamp> {
        t_s.filter(|t| t.is_finite() && *t < self.horizon_s)
            .map(Timestamp::from_secs_f64)
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    const POISSON: &str = include_str!("../library/wan-failover-poisson.toml");

    /// The Poisson library scenario (2400 s horizon) with `arrivals`
    /// instead of its arrival process, without its hourly profile.
    fn scenario(arrivals: &str) -> Scenario {
        let from = "arrivals = \"poisson\"\nrate_per_s = 1.157\n";
        assert!(POISSON.contains(from));
        let mut text = POISSON.replacen(from, &format!("{arrivals}\n"), 1);
        let at = text.find("hourly_profile").expect("a profile");
        let end = text.find("probe_interval_ms").expect("probes");
        text.replace_range(at..end, "");
        crate::parse(Path::new("arrivals.toml"), &text).unwrap_or_else(|e| panic!("{e}"))
    }

    const ON_OFF: &str = "arrivals = \"on-off\"\nrate_per_s = 20\non_mean_s = 30\noff_mean_s = 90";

    /// The on periods of `s`'s workload for `seed` up to `horizon_s`.
    fn on_periods(s: &Scenario, seed: u64, horizon_s: f64) -> Vec<(f64, f64)> {
        let mut phases = Phases::new(seed, s.workload.arrivals()).expect("on-off");
        let mut out = Vec::new();
        let mut t = 0.0;
        while t < horizon_s {
            let on = phases.on_at_or_after(t);
            out.push(on);
            t = on.1;
        }
        out
    }

    /// Whether `t_s` lies in one of `on` (to the microsecond a timestamp
    /// rounds to).
    fn inside(on: &[(f64, f64)], t_s: f64) -> bool {
        on.iter()
            .any(|&(from, until)| from - 1e-6 <= t_s && t_s < until + 1e-6)
    }

    #[test]
    fn no_on_off_write_starts_in_an_off_period() {
        let s = scenario(ON_OFF);
        let horizon = s.scenario.horizon_s;
        for seed in 0..20 {
            let on = on_periods(&s, seed, horizon);
            let writes = Writes::new(&s, seed).starts_s();
            let outside: Vec<&f64> = writes.iter().filter(|t| !inside(&on, **t)).collect();
            assert!(outside.is_empty(), "seed {seed}: {outside:?} not in {on:?}");
            // Not vacuous: the drill spends most of its time off, and most
            // on periods (30 s at 20 writes a second) hold writes.
            let on_s: f64 = on.iter().map(|(a, b)| b.min(horizon) - a).sum();
            assert!(on_s < 0.6 * horizon, "seed {seed}: on for {on_s} s");
            let busy = on
                .iter()
                .filter(|p| writes.iter().any(|t| inside(&[**p], *t)));
            assert!(busy.count() * 10 >= on.len() * 8, "seed {seed}");
            assert!(writes.len() > 1000, "seed {seed}: {} writes", writes.len());
        }
    }

    #[test]
    fn on_off_writes_replay_by_seed_and_their_periods_do_not_follow_the_rate() {
        let s = scenario(ON_OFF);
        let one = Writes::new(&s, 7).starts_s();
        assert_eq!(one, Writes::new(&s, 7).starts_s());
        assert_ne!(one, Writes::new(&s, 8).starts_s());
        // The periods have their own stream: another rate, other gaps,
        // the same on periods.
        let slower = scenario(&ON_OFF.replace("rate_per_s = 20", "rate_per_s = 5"));
        assert_eq!(on_periods(&s, 7, 2400.0), on_periods(&slower, 7, 2400.0));
        assert_ne!(one, Writes::new(&slower, 7).starts_s());
    }

    #[test]
    fn the_drill_starts_on_in_proportion_to_the_on_time() {
        let s = scenario(ON_OFF);
        let n = 4000;
        let on = (0..n)
            .filter(|seed| on_periods(&s, *seed, 1.0)[0].0 == 0.0)
            .count();
        // on / (on + off) = 30 / 120.
        let share = on as f64 / n as f64;
        let se = (0.25f64 * 0.75 / n as f64).sqrt();
        assert!((share - 0.25).abs() <= 4.0 * se, "{share}");
    }

    #[test]
    fn the_other_processes_draw_no_periods() {
        for arrivals in [
            "arrivals = \"fixed\"",
            "arrivals = \"poisson\"",
            "arrivals = \"bursts\"",
        ] {
            assert!(
                Writes::new(&scenario(arrivals), 1).phases.is_none(),
                "{arrivals}"
            );
        }
    }

    #[test]
    fn the_profile_scales_the_on_rate_as_it_scales_a_poisson_rate() {
        let s = scenario(ON_OFF);
        let mut hourly = [1.0; 24];
        hourly[0] = 0.0;
        let mut w = Writes::new(&s, 3);
        w.profile = Some(profile(hourly, 0));
        w.horizon_s = 7200.0;
        let writes = w.starts_s();
        // Nothing in the silent first hour, and the second hour's writes
        // fall in its on periods.
        assert!(writes.first().is_some_and(|t| *t >= 3600.0), "{writes:?}");
        assert!(writes.len() > 1000, "{} writes", writes.len());
        let on = on_periods(&s, 3, 7200.0);
        assert!(writes.iter().all(|t| inside(&on, *t)));
    }

    fn profile(hourly: [f64; 24], start_hour: u32) -> Profile {
        Profile { hourly, start_hour }
    }

    #[test]
    fn the_profile_follows_the_clock_from_the_start_hour() {
        let mut h = [1.0; 24];
        h[9] = 4.0;
        h[3] = 0.5;
        assert_eq!(profile(h, 9).at(10.0), 4.0);
        assert_eq!(profile(h, 9).at(3600.0), 1.0);
        assert_eq!(profile(h, 3).at(10.0), 0.5);
        // 23:00 + 1 h wraps to 00:00.
        assert_eq!(profile(h, 23).at(3700.0), h[0]);
    }

    #[test]
    fn advance_integrates_the_rate_across_hours() {
        let mut h = [0.0; 24];
        h[1] = 2.0;
        // Nothing in hour 0; at 2/s in hour 1, 10 writes take 5 s.
        let t = profile(h, 0).advance(100.0, 10.0, 1.0, 1e6);
        assert_eq!(t, Some(3605.0));
        assert_eq!(profile(h, 0).advance(100.0, 10.0, 1.0, 3000.0), None);
    }
}
