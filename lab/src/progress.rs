//! Progress of the long commands (`sweep`, `bench`, `explore`, `lab up`,
//! lab drills), always on standard error: standard output is the result
//! (reports, JSON) and progress never changes a byte of it.
//!
//! This module is the one place that decides how progress looks. On a
//! terminal (stderr is a TTY and `TERM` is not `dumb`) it is an
//! `indicatif` bar, redrawn at most 20 times a second and cleared when the
//! command finishes. Anywhere else (a pipe, a file, a CI log) it is plain
//! lines at a bounded rate ([`Limiter`]): one as each tenth of the work is
//! done and one at least every [`LINE_EVERY`] while it goes on, so that
//! a million runs print a dozen lines, not a million. No colours are used,
//! so `NO_COLOR` holds either way.
//!
//! The libraries know nothing of this: they report through the callbacks
//! they already take (`LabOptions::with_progress`, the `progress` closure
//! of `drlab_drill::lab::run`) or through per-run closures in the commands
//! themselves, and the commands feed a [`Progress`].

use std::io::{IsTerminal, Write};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// In a pipe, the longest time between two lines while work goes on.
pub const LINE_EVERY: Duration = Duration::from_secs(30);

/// Whether progress is drawn as a bar: standard error is a terminal that
/// can move its cursor.
pub fn on_terminal() -> bool {
    std::io::stderr().is_terminal() && std::env::var_os("TERM").is_none_or(|t| t != "dumb")
}

/// Decides when a plain progress line is due: when the work crosses the
/// next tenth of its total (10 % to 90 %; the end has its own line), or
/// when [`Limiter::every`] has passed since the last line. So a run of
/// any length prints at most 9 + elapsed / every lines before its end.
#[derive(Debug, Clone)]
pub struct Limiter {
    every: Duration,
    /// The next tenth (1..=9) that earns a line.
    next_tenth: u64,
    /// When the last line was due, since the start.
    last: Duration,
}

impl Limiter {
    /// A limiter with a line at least every `every`.
    pub fn new(every: Duration) -> Limiter {
        Limiter {
            every,
            next_tenth: 1,
            last: Duration::ZERO,
        }
    }

    /// Whether a line is due with `done` of `total` (when known) done at
    /// `now` since the start; a `true` counts as the line printed.
    pub fn due(&mut self, done: u64, total: Option<u64>, now: Duration) -> bool {
        // the end has its own line (`Progress::finish`)
        if total.is_some_and(|t| t > 0 && done >= t) {
            return false;
        }
        let tenth = match total {
            Some(t) if t > 0 => (u128::from(done) * 10 / u128::from(t)).min(10) as u64,
            _ => 0,
        };
        let by_share = tenth >= self.next_tenth;
        if by_share {
            self.next_tenth = tenth + 1;
        }
        let by_time = now.saturating_sub(self.last) >= self.every;
        if by_share || by_time {
            self.last = now;
        }
        by_share || by_time
    }
}

/// The state of plain-line progress.
struct Lines {
    limiter: Limiter,
    started: Instant,
    done: u64,
    total: Option<u64>,
    message: String,
    finished: bool,
}

enum Kind {
    Bar(ProgressBar),
    Lines(Mutex<Lines>),
}

struct Inner {
    /// The command's name, first on every line (`sweep`, `explore`).
    name: String,
    /// What is counted (`runs`, `steps`).
    unit: &'static str,
    kind: Kind,
}

/// Progress of one piece of work on standard error: a bar on a terminal,
/// bounded plain lines elsewhere. Cheap to clone (the clones share one
/// display) and safe to feed from several threads. Dropped unfinished (an
/// error), a bar stays as it was, to show where the work stopped, and no
/// final line is printed.
#[derive(Clone)]
pub struct Progress(Arc<Inner>);

impl Progress {
    /// Progress over `total` units (or an unknown number, shown with a
    /// spinner), named `name` on its lines.
    pub fn new(name: &str, total: Option<u64>, unit: &'static str) -> Progress {
        Self::with_mode(name, total, unit, on_terminal())
    }

    /// Progress that shows nothing (for tests).
    #[cfg(test)]
    pub fn hidden(name: &str, total: Option<u64>, unit: &'static str) -> Progress {
        let bar = ProgressBar::hidden();
        if let Some(t) = total {
            bar.set_length(t);
        }
        Progress(Arc::new(Inner {
            name: name.to_string(),
            unit,
            kind: Kind::Bar(bar),
        }))
    }

    fn with_mode(name: &str, total: Option<u64>, unit: &'static str, bar: bool) -> Progress {
        let kind = if bar {
            let template = match total {
                Some(_) => format!(
                    "{{prefix}} [{{elapsed_precise}}] {{bar:30}} {{human_pos}}/{{human_len}} \
                     {unit} (ETA {{eta}}) {{wide_msg}}"
                ),
                None => "{spinner} {prefix} [{elapsed_precise}] {wide_msg}".to_string(),
            };
            let style = ProgressStyle::with_template(&template)
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> ");
            let bar = ProgressBar::with_draw_target(total, ProgressDrawTarget::stderr())
                .with_style(style)
                .with_prefix(name.to_string());
            // the elapsed time moves even while one unit takes long
            bar.enable_steady_tick(Duration::from_millis(200));
            Kind::Bar(bar)
        } else {
            Kind::Lines(Mutex::new(Lines {
                limiter: Limiter::new(LINE_EVERY),
                started: Instant::now(),
                done: 0,
                total,
                message: String::new(),
                finished: false,
            }))
        };
        Progress(Arc::new(Inner {
            name: name.to_string(),
            unit,
            kind,
        }))
    }

    fn lines(&self, f: impl FnOnce(&mut Lines, &Inner)) {
        if let Kind::Lines(m) = &self.0.kind {
            let mut l = m.lock().unwrap_or_else(PoisonError::into_inner);
            f(&mut l, &self.0);
        }
    }

    /// `n` more units done.
    pub fn inc(&self, n: u64) {
        match &self.0.kind {
            Kind::Bar(b) => b.inc(n),
            Kind::Lines(_) => self.lines(|l, inner| {
                l.done += n;
                if l.limiter.due(l.done, l.total, l.started.elapsed()) {
                    say(&inner.line(l));
                }
            }),
        }
    }

    /// `n` units done in all.
    pub fn set_position(&self, n: u64) {
        match &self.0.kind {
            Kind::Bar(b) => b.set_position(n),
            Kind::Lines(_) => self.lines(|l, _| l.done = n),
        }
    }

    /// The total is `n` units after all.
    pub fn set_length(&self, n: u64) {
        match &self.0.kind {
            Kind::Bar(b) => b.set_length(n),
            Kind::Lines(_) => self.lines(|l, _| l.total = Some(n)),
        }
    }

    /// What is being done now: the bar's message, and the end of the next
    /// plain line.
    pub fn set_message(&self, m: &str) {
        match &self.0.kind {
            Kind::Bar(b) => b.set_message(m.to_string()),
            Kind::Lines(_) => self.lines(|l, _| l.message = m.to_string()),
        }
    }

    /// A step worth its own line (a lab's set-up step): `short` as the
    /// bar's message on a terminal, `line` as it is elsewhere.
    pub fn event(&self, line: &str, short: &str) {
        match &self.0.kind {
            Kind::Bar(b) => b.set_message(short.to_string()),
            Kind::Lines(_) => say(line),
        }
    }

    /// A line kept in both modes (a drill's milestone, a warning): printed
    /// above the bar on a terminal, as it is elsewhere.
    pub fn note(&self, line: &str) {
        match &self.0.kind {
            Kind::Bar(b) => b.println(line),
            Kind::Lines(_) => say(line),
        }
    }

    /// Restarts the elapsed time (a drill's clock starts after its set-up).
    pub fn reset_elapsed(&self) {
        match &self.0.kind {
            Kind::Bar(b) => b.reset_elapsed(),
            Kind::Lines(_) => self.lines(|l, _| l.started = Instant::now()),
        }
    }

    /// The work is done: the bar is cleared (the result follows on
    /// standard output); in a pipe, one last line with the total and the
    /// time taken. Later calls do nothing.
    pub fn finish(&self) {
        match &self.0.kind {
            Kind::Bar(b) => b.finish_and_clear(),
            Kind::Lines(_) => self.lines(|l, inner| {
                if !l.finished {
                    l.finished = true;
                    let took = l.started.elapsed().as_secs_f64();
                    say(&match l.total {
                        Some(_) => format!(
                            "{}: {} {} done in {took:.1} s",
                            inner.name, l.done, inner.unit
                        ),
                        None => format!("{}: done in {took:.1} s", inner.name),
                    });
                }
            }),
        }
    }
}

impl Inner {
    /// A plain progress line: `sweep: 400/1000 runs (40 %), 2.1 s, variant 1/2: ...`.
    fn line(&self, l: &Lines) -> String {
        let mut s = format!("{}: {}", self.name, l.done);
        if let Some(t) = l.total {
            let pct = if t > 0 {
                u128::from(l.done) * 100 / u128::from(t)
            } else {
                100
            };
            s += &format!("/{t} {} ({pct} %)", self.unit);
        } else {
            s += &format!(" {}", self.unit);
        }
        s += &format!(", {:.1} s", l.started.elapsed().as_secs_f64());
        if !l.message.is_empty() {
            s += ", ";
            s += &l.message;
        }
        s
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        if let Kind::Bar(b) = &self.kind
            && !b.is_finished()
        {
            b.abandon();
        }
    }
}

/// One line on standard error; a closed stderr is ignored.
fn say(line: &str) {
    let mut e = std::io::stderr().lock();
    let _ = writeln!(e, "{line}");
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: Duration = Duration::from_secs(1);

    #[test]
    fn a_line_per_tenth_and_none_per_run() {
        let mut l = Limiter::new(30 * S);
        let total = 1_000_000;
        // a million runs in 10 s: only the tenths earn lines
        let lines = (1..=total)
            .filter(|&done| l.due(done, Some(total), Duration::from_micros(done * 10)))
            .count();
        assert_eq!(lines, 9);
    }

    #[test]
    fn slow_work_gets_a_line_every_interval_and_no_more() {
        let mut l = Limiter::new(30 * S);
        // 10 runs of 100 s each: a tenth per run, each earns its line
        let due: Vec<bool> = (1..=10)
            .map(|done| l.due(done, Some(10), done as u32 * 100 * S))
            .collect();
        assert_eq!(
            due,
            [true; 9].into_iter().chain([false]).collect::<Vec<_>>()
        );
        // one long run of unknown length: a line every 30 s
        let mut l = Limiter::new(30 * S);
        let lines = (0..=300)
            .filter(|&s| l.due(0, None, Duration::from_secs(s)))
            .count();
        assert_eq!(lines, 10);
    }

    #[test]
    fn tenths_skipped_in_one_step_earn_one_line() {
        let mut l = Limiter::new(30 * S);
        assert!(!l.due(0, Some(10), Duration::ZERO));
        assert!(l.due(5, Some(10), S));
        assert!(!l.due(5, Some(10), 2 * S));
        assert!(l.due(6, Some(10), 3 * S));
        // the end is the final line's, not the limiter's
        assert!(!l.due(10, Some(10), 4 * S));
        // no total: time only; a zero total never divides
        let mut l = Limiter::new(30 * S);
        assert!(!l.due(7, Some(0), S));
        assert!(l.due(7, Some(0), 31 * S));
    }

    #[test]
    fn plain_lines_say_done_of_total_and_what_is_done() {
        let p = Progress::with_mode("sweep", Some(1000), "runs", false);
        p.set_message("variant 1/2: x=1");
        p.inc(400);
        let Kind::Lines(m) = &p.0.kind else {
            panic!("plain lines asked for")
        };
        let l = m.lock().unwrap();
        let line = p.0.line(&l);
        assert!(
            line.starts_with("sweep: 400/1000 runs (40 %), ")
                && line.ends_with(" s, variant 1/2: x=1"),
            "{line}"
        );
    }
}
