//! The patent's archive operation, process 600 (002, section VIII "Archive
//! Operation", Figure 6), running over simulated days:
//!
//! - step 602: "determined if the Archive setting has been enabled";
//! - step 606: "determines if it is time to perform an archive based on the
//!   user 'level' settings" ("process 600 ... executes in a loop");
//! - step 612: "determination ... will be negative if a restore process 700
//!   is in progress, another archive process 600 is in progress, or a failure
//!   switch-over/switch-back process 300 is in progress" → step 614, end;
//! - steps 616-624: the backup of "information store 120b" goes "onto data
//!   archives 124", "placed in the appropriate 'level' (... 24, 48 or 72 hour
//!   archive)";
//! - step 626 negative: "obtains a Universal Time Coordinated (UTC) time
//!   stamp (step 628), sends an alert (e.g., an e-mail) ... (step 630)";
//! - step 634: "obtains a time stamp to associate with the successful
//!   archive operation".
//!
//! Each level runs its own loop; level L is due every L hours and keeps one
//! image (the disks "age appropriately" by replacement). An archive refused
//! by step 612 never ran, so it is tried again at the next check; one that
//! ran and failed has been stamped and alerted, and the level waits for its
//! next slot (a person now knows; retrying every check would only repeat
//! the alert). The users' primary is not involved: it serves throughout.

use drlab_drivers::{Backend, EventKind, Timestamp};
use futures::future::join_all;

use crate::drill::Drill;
use crate::format::{ArchiveParams, ArchiveSchedule, Scenario};
use crate::interlock::{Interlocks, Operation};
use crate::path;
use crate::validate::{Problems, host, positive};

/// The drill's control loop: process 600 until the horizon.
pub async fn control<B: Backend>(d: &Drill<'_, B>, p: &ArchiveParams) -> &'static str {
    let locks = Interlocks::new();
    schedule(d, &p.archive, &locks).await;
    "horizon reached: the archive schedule ran for the whole drill"
}

/// Checks the parameters against the estate.
pub(crate) fn validate(s: &Scenario, r: &ArchiveParams, p: &mut Problems) {
    if host(s, &r.primary)
        .and_then(|h| h.exchange.as_ref())
        .is_none()
    {
        p.push((
            path!("runbook", "primary"),
            format!("{:?} is not an Exchange host", r.primary),
        ));
    }
    validate_schedule(s, &r.archive, path!("runbook", "archive"), p);
    if r.archive.host == r.primary {
        p.push((
            path!("runbook", "archive", "host"),
            "the patent archives the secondary's store, not the primary's".into(),
        ));
    }
}

/// Checks an archive schedule (also used by the restore runbook).
pub(crate) fn validate_schedule(
    s: &Scenario,
    a: &ArchiveSchedule,
    at: crate::load::FieldPath,
    p: &mut Problems,
) {
    if host(s, &a.host).and_then(|h| h.exchange.as_ref()).is_none() {
        p.push((
            at.key("host"),
            format!("{:?} is not an Exchange host", a.host),
        ));
    }
    if a.levels_h.is_empty() {
        p.push((at.key("levels_h"), "list at least one level".into()));
    }
    for (i, l) in a.levels_h.iter().enumerate() {
        if *l == 0 || a.levels_h[..i].contains(l) {
            p.push((
                at.key("levels_h").index(i),
                format!("levels are distinct and > 0 hours, got {l}"),
            ));
        } else if !s.archive_disks.is_empty()
            && !s.archive_disks.iter().any(|d| d.levels_h.contains(l))
        {
            p.push((
                at.key("levels_h").index(i),
                format!("no [[archive_disks]] entry holds level {l} h"),
            ));
        }
    }
    positive(
        p,
        at.key("check_interval_s"),
        a.check_interval_s,
        "check interval",
    );
    if let Err(e) = parse_utc(&a.start_utc) {
        p.push((at.key("start_utc"), e));
    }
}

/// Process 600 for every level, sharing `locks` with whatever else runs;
/// returns only when the drill stops.
pub async fn schedule<B: Backend>(d: &Drill<'_, B>, a: &ArchiveSchedule, locks: &Interlocks) {
    if !a.enabled {
        // Step 602 negative: no archive for the duration of this condition.
        d.sleep_until(Timestamp(u64::MAX)).await;
        return;
    }
    join_all(a.levels_h.iter().map(|&l| level_loop(d, a, locks, l))).await;
}

/// One level's loop: check every `check_interval_s`; archive when the
/// level's latest slot has no successful image yet.
async fn level_loop<B: Backend>(
    d: &Drill<'_, B>,
    a: &ArchiveSchedule,
    locks: &Interlocks,
    level_h: u32,
) {
    let b = d.cx().b;
    let period = u64::from(level_h) * 3_600_000_000;
    let check = drlab_drivers::time::secs(a.check_interval_s)
        .as_micros()
        .max(1) as u64;
    let mut done: Option<u64> = None;
    // Bounded by the drill: every turn sleeps at least one check.
    loop {
        let slot = b.now().as_micros() / period * period;
        if slot > 0 && done.is_none_or(|t| t < slot) && archive_once(d, a, locks, level_h).await {
            done = Some(slot);
        }
        let next = (b.now().as_micros() / check + 1) * check;
        if d.sleep_until(Timestamp(next)).await {
            return;
        }
    }
}

/// Steps 610-636 once; true when the archive ran (kept, or failed and
/// alerted), false when step 612 refused it.
async fn archive_once<B: Backend>(
    d: &Drill<'_, B>,
    a: &ArchiveSchedule,
    locks: &Interlocks,
    level_h: u32,
) -> bool {
    let cx = d.cx();
    let h = a.host.as_str();
    let what = format!("{level_h} h of {h}");
    let _held = match locks.begin(Operation::Archive, &what) {
        Ok(held) => held,
        Err(reason) => {
            cx.emit(EventKind::OperationRefused {
                operation: format!("archive {what}").into(),
                reason: reason.into(),
            });
            return false;
        }
    };
    let r = cx
        .step(
            format!("archive {h} at level {level_h} h (backup to the archive disks)"),
            cx.b.take_archive(h, level_h),
        )
        .await;
    let stamp = utc(&a.start_utc, cx.b.now());
    match r {
        Ok(info) => {
            cx.emit(EventKind::ArchiveTaken {
                host: h.into(),
                level_h,
                image: info.id,
                bytes: info.bytes,
                utc: stamp.into(),
            });
            true
        }
        Err(e) => {
            let error = e.error.to_string();
            cx.emit(EventKind::ArchiveFailed {
                host: h.into(),
                level_h,
                error: error.as_str().into(),
                utc: stamp.as_str().into(),
            });
            cx.emit(EventKind::Alert {
                message: format!("archive {what} failed at {stamp} (UTC): {error}").into(),
            });
            true
        }
    }
}

/// Seconds since 1970-01-01T00:00:00Z of `YYYY-MM-DDTHH:MM:SSZ`.
pub fn parse_utc(s: &str) -> Result<i64, String> {
    let bad = || format!("expected a UTC time like 2012-08-06T00:00:00Z, got {s:?}");
    let b = s.as_bytes();
    if b.len() != 20 || b[4] != b'-' || b[7] != b'-' || b[10] != b'T' || b[13] != b':' {
        return Err(bad());
    }
    if b[16] != b':' || b[19] != b'Z' {
        return Err(bad());
    }
    let num = |r: std::ops::Range<usize>| s[r].parse::<i64>().map_err(|_| bad());
    let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (hh, mm, ss) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || hh > 23 || mm > 59 || ss > 59 {
        return Err(bad());
    }
    Ok(days_from_civil(y, mo, d) * 86_400 + hh * 3600 + mm * 60 + ss)
}

/// The UTC stamp of drill time `at` for a drill that began at `start`
/// (a valid `start_utc`), to the millisecond.
///
/// # Panics
///
/// When `start` is not a valid stamp: `start_utc` is checked when the
/// scenario loads (`validate_schedule`), so that is a bug, not an input
/// problem; a stamp counted from 1970 instead would be a wrong answer.
pub fn utc(start: &str, at: Timestamp) -> String {
    let base = parse_utc(start).expect("start_utc is validated when the scenario loads");
    let ms = (at.as_micros() + 500) / 1000;
    let secs = base + (ms / 1000) as i64;
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let (y, mo, d) = civil_from_days(days);
    format!(
        "{y:04}-{mo:02}-{d:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        ms % 1000
    )
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The date of a day count since 1970-01-01.
fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (
        if m <= 2 {
            yoe + era * 400 + 1
        } else {
            yoe + era * 400
        },
        m,
        d,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utc_stamps_count_from_the_drills_start() {
        assert_eq!(parse_utc("1970-01-01T00:00:00Z"), Ok(0));
        assert_eq!(parse_utc("2000-03-01T00:00:00Z"), Ok(951_868_800));
        let start = "2012-08-06T00:00:00Z";
        assert_eq!(utc(start, Timestamp(0)), "2012-08-06T00:00:00.000Z");
        // Three days and a bit later, across the month end of a leap year.
        let t = Timestamp::from_secs_f64(26.0 * 86_400.0 + 3_723.5);
        assert_eq!(utc(start, t), "2012-09-01T01:02:03.500Z");
        assert!(parse_utc("2012-13-01T00:00:00Z").is_err());
        assert!(parse_utc("yesterday").is_err());
    }
}
