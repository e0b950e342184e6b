//! aiohttp's `ClientTimeout` as deadlines.
//!
//! * `total`: the whole operation, redirects and body reading included;
//! * `connect`: waiting for a pool slot plus establishing a new connection;
//! * `sock_connect`: establishing one new connection (TCP + TLS);
//! * `sock_read`: the longest wait for the next bytes from the peer.

use std::time::{Duration, Instant};

use crate::error::ErrorKind;

#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Timeouts {
    pub total: Option<Duration>,
    pub connect: Option<Duration>,
    pub sock_connect: Option<Duration>,
    pub sock_read: Option<Duration>,
}

impl Timeouts {
    /// From aiohttp's float seconds, where `None` or a value <= 0 means no limit.
    pub fn from_secs(
        total: Option<f64>,
        connect: Option<f64>,
        sock_read: Option<f64>,
        sock_connect: Option<f64>,
    ) -> Self {
        fn d(v: Option<f64>) -> Option<Duration> {
            v.filter(|s| s.is_finite() && *s > 0.0).map(duration)
        }
        Timeouts {
            total: d(total),
            connect: d(connect),
            sock_connect: d(sock_connect),
            sock_read: d(sock_read),
        }
    }
}

/// The longest wait the engine keeps, about a century: a caller's larger
/// number of seconds (aiohttp takes any) means "never" in practice, and a
/// deadline that far ahead still fits in an `Instant`.
pub const LONGEST: Duration = Duration::from_secs(100 * 365 * 24 * 3600);

/// A caller's seconds as a duration, at most [`LONGEST`] (zero for NaN
/// or below zero): `Duration::from_secs_f64` panics past its range.
pub fn duration(secs: f64) -> Duration {
    if secs.is_nan() || secs <= 0.0 {
        return Duration::ZERO;
    }
    if secs >= LONGEST.as_secs_f64() {
        return LONGEST;
    }
    Duration::from_secs_f64(secs)
}

/// A setting's seconds, checked: above zero (or zero too when `zero_ok`;
/// infinity is "never": [`LONGEST`]); else what `name` must be, in words.
pub fn setting(name: &str, secs: f64, zero_ok: bool) -> Result<Duration, String> {
    let ok = secs > 0.0 || (zero_ok && secs == 0.0);
    match ok {
        true => Ok(duration(secs)),
        false => Err(format!(
            "{name} must be {} 0, not {secs}",
            if zero_ok { ">=" } else { ">" }
        )),
    }
}

/// A point in time and the error raised when it passes.
pub type Deadline = (Instant, ErrorKind);

/// The earliest of the given deadlines; on a tie the later-listed (more
/// specific) one wins.
pub fn earliest(deadlines: &[Option<Deadline>]) -> Option<Deadline> {
    let mut best: Option<Deadline> = None;
    for d in deadlines.iter().flatten() {
        match best {
            Some((t, _)) if t < d.0 => {}
            _ => best = Some(*d),
        }
    }
    best
}

/// The deadline of the whole request.
pub fn total_deadline(start: Instant, t: &Timeouts) -> Option<Deadline> {
    t.total.map(|d| (start + d, ErrorKind::TotalTimeout))
}

/// The deadline for getting a connection (pool wait + connect), from `now`.
pub fn acquire_deadline(now: Instant, total: Option<Deadline>, t: &Timeouts) -> Option<Deadline> {
    earliest(&[
        total,
        t.connect.map(|d| (now + d, ErrorKind::ConnectTimeout)),
    ])
}

/// The deadline for establishing one new connection, from `now`.
pub fn sock_connect_deadline(
    now: Instant,
    acquire: Option<Deadline>,
    t: &Timeouts,
) -> Option<Deadline> {
    earliest(&[
        acquire,
        t.sock_connect.map(|d| (now + d, ErrorKind::ConnectTimeout)),
    ])
}

/// The deadline for the next read from the peer, from `now`.
pub fn read_deadline(now: Instant, total: Option<Deadline>, t: &Timeouts) -> Option<Deadline> {
    earliest(&[
        total,
        t.sock_read.map(|d| (now + d, ErrorKind::ReadTimeout)),
    ])
}

/// The error of `total` when it has passed at `now`: a body's reader
/// that takes what is already buffered checks it too, so that one that
/// never waits still meets its total timeout (aiohttp's `assert_timeout`).
pub fn passed(total: Option<Deadline>, now: Instant) -> Option<crate::Error> {
    match total {
        Some((at, kind)) if now >= at => Some(crate::pool::timeout_error(kind)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn huge_and_odd_seconds_do_not_panic() {
        assert_eq!(duration(1e300), LONGEST);
        assert_eq!(duration(f64::INFINITY), LONGEST);
        assert_eq!(duration(f64::NAN), Duration::ZERO);
        assert_eq!(duration(-1.0), Duration::ZERO);
        assert_eq!(duration(1.5), Duration::from_millis(1500));
        let _ = Instant::now() + LONGEST;
        let t = Timeouts::from_secs(Some(1e300), None, Some(1e20), None);
        assert_eq!((t.total, t.sock_read), (Some(LONGEST), Some(LONGEST)));
        assert_eq!(setting("x", 0.0, true), Ok(Duration::ZERO));
        assert_eq!(
            setting("x", 0.0, false).unwrap_err(),
            "x must be > 0, not 0"
        );
        assert_eq!(
            setting("x", -1.0, true).unwrap_err(),
            "x must be >= 0, not -1"
        );
        assert_eq!(setting("x", f64::INFINITY, false), Ok(LONGEST));
        assert!(setting("x", f64::NAN, true).is_err());
        assert!(setting("x", f64::NEG_INFINITY, true).is_err());
        assert_eq!(setting("x", 1e300, false), Ok(LONGEST));
    }

    #[test]
    fn secs() {
        let t = Timeouts::from_secs(Some(300.0), None, Some(0.0), Some(30.0));
        assert_eq!(t.total, Some(Duration::from_secs(300)));
        assert_eq!(t.connect, None);
        assert_eq!(t.sock_read, None, "0 means no limit");
        assert_eq!(t.sock_connect, Some(Duration::from_secs(30)));
    }

    #[test]
    fn a_passed_total_deadline_is_its_error() {
        let now = Instant::now();
        assert!(passed(None, now).is_none());
        let total = Some((now + Duration::from_secs(1), ErrorKind::TotalTimeout));
        assert!(passed(total, now).is_none());
        let e = passed(total, now + Duration::from_secs(1)).unwrap();
        assert_eq!(e.kind, ErrorKind::TotalTimeout);
    }

    #[test]
    fn picks_earliest() {
        let now = Instant::now();
        let t = Timeouts::from_secs(Some(10.0), Some(1.0), Some(5.0), Some(0.5));
        let total = total_deadline(now, &t);
        let acq = acquire_deadline(now, total, &t).unwrap();
        assert_eq!(
            acq,
            (now + Duration::from_secs(1), ErrorKind::ConnectTimeout)
        );
        let sc = sock_connect_deadline(now, Some(acq), &t).unwrap();
        assert_eq!(
            sc,
            (now + Duration::from_millis(500), ErrorKind::ConnectTimeout)
        );
        let rd = read_deadline(now, total, &t).unwrap();
        assert_eq!(rd.1, ErrorKind::ReadTimeout);
        // Late in the request the total deadline is nearer than sock_read.
        let late = now + Duration::from_secs(8);
        assert_eq!(
            read_deadline(late, total, &t).unwrap().1,
            ErrorKind::TotalTimeout
        );
    }

    #[test]
    fn none_without_limits() {
        let now = Instant::now();
        let t = Timeouts::default();
        assert!(acquire_deadline(now, total_deadline(now, &t), &t).is_none());
        assert!(read_deadline(now, None, &t).is_none());
    }

    #[test]
    fn tie_prefers_specific() {
        let now = Instant::now();
        let e = earliest(&[
            Some((now, ErrorKind::TotalTimeout)),
            Some((now, ErrorKind::ReadTimeout)),
        ]);
        assert_eq!(e.unwrap().1, ErrorKind::ReadTimeout);
    }
}
