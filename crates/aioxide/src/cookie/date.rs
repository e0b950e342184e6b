//! Cookie dates: the RFC 6265 §5.1.1 parsing algorithm, and IMF-fixdate output.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Seconds from the epoch to 9999-12-31T23:59:59Z: the latest expiry the jar keeps
/// (a later Max-Age or date is clamped to it, as RFC 6265 §5.2.1 allows).
pub(crate) const MAX_UNIX_SECS: i64 = 253_402_300_799;

/// §5.1.1 delimiter: %x09 / %x20-2F / %x3B-40 / %x5B-60 / %x7B-7E.
fn is_delimiter(b: u8) -> bool {
    matches!(b, 0x09 | 0x20..=0x2F | 0x3B..=0x40 | 0x5B..=0x60 | 0x7B..=0x7E)
}

/// A run of `min..=max` digits at the start of `tok`, followed by the end of the
/// token or a non-digit (the `( non-digit *OCTET )` tail of the grammar).
/// Returns the value and the number of digits.
fn leading_digits(tok: &[u8], min: usize, max: usize) -> Option<(u32, usize)> {
    let n = tok.iter().take_while(|b| b.is_ascii_digit()).count();
    if n < min || n > max {
        return None;
    }
    let value = tok[..n]
        .iter()
        .fold(0u32, |acc, b| acc * 10 + u32::from(b - b'0'));
    Some((value, n))
}

/// `time = hms-time [ non-digit *OCTET ]`, `hms-time = time-field ":" time-field ":" time-field`.
fn parse_time(tok: &[u8]) -> Option<(u32, u32, u32)> {
    let (h, n1) = leading_digits(tok, 1, 2)?;
    let rest = tok[n1..].strip_prefix(b":")?;
    let (m, n2) = leading_digits(rest, 1, 2)?;
    let rest = rest[n2..].strip_prefix(b":")?;
    let (s, _) = leading_digits(rest, 1, 2)?;
    Some((h, m, s))
}

fn parse_month(tok: &[u8]) -> Option<u32> {
    const MONTHS: [&[u8; 3]; 12] = [
        b"jan", b"feb", b"mar", b"apr", b"may", b"jun", b"jul", b"aug", b"sep", b"oct", b"nov",
        b"dec",
    ];
    let head = tok.get(..3)?;
    MONTHS
        .iter()
        .position(|m| head.eq_ignore_ascii_case(&m[..]))
        .and_then(|i| u32::try_from(i + 1).ok())
}

fn is_leap(year: i64) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

fn days_in_month(year: i64, month: u32) -> u32 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ if is_leap(year) => 29,
        _ => 28,
    }
}

/// Days from 1970-01-01 to the given civil date (proleptic Gregorian; H. Hinnant's algorithm).
fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(month);
    let mp = if m > 2 { m - 3 } else { m + 9 };
    let doy = (153 * mp + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The civil date of a day count from 1970-01-01.
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    // day in 1..=31 and month in 1..=12 by construction.
    (
        year,
        u32::try_from(month).unwrap_or(1),
        u32::try_from(day).unwrap_or(1),
    )
}

/// `SystemTime` for a signed count of seconds from the Unix epoch.
pub(crate) fn from_unix_secs(secs: i64) -> SystemTime {
    let secs = secs.min(MAX_UNIX_SECS);
    if secs >= 0 {
        UNIX_EPOCH + Duration::from_secs(secs.unsigned_abs())
    } else {
        UNIX_EPOCH
            .checked_sub(Duration::from_secs(secs.unsigned_abs()))
            .unwrap_or(UNIX_EPOCH)
    }
}

/// Signed seconds (with fraction) from the Unix epoch.
pub(crate) fn to_unix_f64(t: SystemTime) -> f64 {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => d.as_secs_f64(),
        Err(e) => -e.duration().as_secs_f64(),
    }
}

/// `SystemTime` for signed seconds from the Unix epoch; `None` for NaN or infinities.
pub(crate) fn from_unix_f64(secs: f64) -> Option<SystemTime> {
    if !secs.is_finite() {
        return None;
    }
    let secs = secs.min(MAX_UNIX_SECS as f64);
    if secs >= 0.0 {
        Some(UNIX_EPOCH + Duration::from_secs_f64(secs))
    } else {
        UNIX_EPOCH.checked_sub(Duration::try_from_secs_f64(-secs).ok()?)
    }
}

/// Parse a cookie date with the algorithm of RFC 6265 §5.1.1.
///
/// Returns `None` where the algorithm fails: a missing time, day, month or
/// year; a day outside 1..=31; a year before 1601; an hour, minute or second
/// out of range; or a date that does not exist (February 30).
pub fn parse_cookie_date(input: &[u8]) -> Option<SystemTime> {
    let mut time: Option<(u32, u32, u32)> = None;
    let mut day: Option<u32> = None;
    let mut month: Option<u32> = None;
    let mut year: Option<u32> = None;

    for tok in input.split(|&b| is_delimiter(b)).filter(|t| !t.is_empty()) {
        if time.is_none() {
            if let Some(t) = parse_time(tok) {
                time = Some(t);
                continue;
            }
        }
        if day.is_none() {
            if let Some((d, _)) = leading_digits(tok, 1, 2) {
                day = Some(d);
                continue;
            }
        }
        if month.is_none() {
            if let Some(m) = parse_month(tok) {
                month = Some(m);
                continue;
            }
        }
        if year.is_none() {
            if let Some((y, _)) = leading_digits(tok, 2, 4) {
                year = Some(y);
                continue;
            }
        }
    }

    let (hour, minute, second) = time?;
    let (day, month, year) = (day?, month?, year?);
    let year = match year {
        70..=99 => year + 1900,
        0..=69 => year + 2000,
        _ => year,
    };
    let year = i64::from(year);
    if !(1..=31).contains(&day) || year < 1601 || hour > 23 || minute > 59 || second > 59 {
        return None;
    }
    if day > days_in_month(year, month) {
        return None;
    }
    let secs = days_from_civil(year, month, day) * 86_400
        + i64::from(hour) * 3600
        + i64::from(minute) * 60
        + i64::from(second);
    Some(from_unix_secs(secs))
}

/// Format a time as an IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`), the form
/// of an `Expires` attribute. Sub-second parts are dropped.
pub fn format_http_date(t: SystemTime) -> String {
    const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let secs = match t.duration_since(UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_secs()).unwrap_or(MAX_UNIX_SECS),
        Err(e) => {
            let d = e.duration();
            let whole = i64::try_from(d.as_secs()).unwrap_or(i64::MAX / 2);
            // Round down (towards the past) for times before the epoch.
            -whole - i64::from(d.subsec_nanos() > 0)
        }
    }
    .min(MAX_UNIX_SECS);
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (year, month, day) = civil_from_days(days);
    let weekday = DAYS[usize::try_from(days.rem_euclid(7)).unwrap_or(0)];
    let month_name = MONTHS[usize::try_from(month - 1).unwrap_or(0)];
    format!(
        "{weekday}, {day:02} {month_name} {year:04} {:02}:{:02}:{:02} GMT",
        rem / 3600,
        (rem / 60) % 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fmt(s: &str) -> Option<String> {
        parse_cookie_date(s.as_bytes()).map(format_http_date)
    }

    #[test]
    fn rfc_formats() {
        let want = Some("Sun, 06 Nov 1994 08:49:37 GMT".to_owned());
        assert_eq!(fmt("Sun, 06 Nov 1994 08:49:37 GMT"), want);
        assert_eq!(fmt("Sunday, 06-Nov-94 08:49:37 GMT"), want);
        assert_eq!(fmt("Sun Nov  6 08:49:37 1994"), want);
    }

    #[test]
    fn two_digit_years() {
        assert_eq!(
            fmt("1 Jan 70 00:00:00").as_deref(),
            Some("Thu, 01 Jan 1970 00:00:00 GMT")
        );
        assert_eq!(
            fmt("1 Jan 69 00:00:00").as_deref(),
            Some("Tue, 01 Jan 2069 00:00:00 GMT")
        );
        assert_eq!(
            fmt("1 Jan 99 00:00:00").as_deref(),
            Some("Fri, 01 Jan 1999 00:00:00 GMT")
        );
        assert_eq!(
            fmt("1 Jan 00 00:00:00").as_deref(),
            Some("Sat, 01 Jan 2000 00:00:00 GMT")
        );
    }

    #[test]
    fn epoch_is_a_date_not_a_failure() {
        assert_eq!(
            parse_cookie_date(b"Thu, 01 Jan 1970 00:00:00 GMT"),
            Some(UNIX_EPOCH)
        );
    }

    #[test]
    fn before_the_epoch() {
        assert_eq!(
            fmt("Mon, 01 Jan 1601 00:00:00 GMT").as_deref(),
            Some("Mon, 01 Jan 1601 00:00:00 GMT")
        );
        assert_eq!(fmt("Sun, 31 Dec 1600 23:59:59 GMT"), None);
    }

    #[test]
    fn failures() {
        for s in [
            "",
            "garbage",
            "Mon, 01 Jan 2011 00: 00:00 GMT",
            "31 Feb 2011 00:00:00",
            "29 Feb 2011 00:00:00",
            "32 Jan 2011 00:00:00",
            "0 Jan 2011 00:00:00",
            "1 Jan 2011 24:00:00",
            "1 Jan 2011 23:60:00",
            "1 Jan 2011 23:59:60",
            "1 Jan 20111 00:00:00",
            "012 Jan 2011 00:00:00",
            "1 Jan 2011 00:00:000",
            "1 Xyz 2011 00:00:00",
        ] {
            assert_eq!(fmt(s), None, "{s:?}");
        }
        assert!(fmt("29 Feb 2012 00:00:00").is_some());
        assert!(fmt("29 Feb 2000 00:00:00").is_some());
        assert!(fmt("29 Feb 1900 00:00:00").is_none());
    }

    #[test]
    fn tokens_in_any_order_first_match_wins() {
        let want = Some("Sat, 15 Apr 2017 21:01:22 GMT".to_owned());
        assert_eq!(fmt("2017 April 15 21:01:22"), want);
        assert_eq!(fmt("Sat, 15-Apr-17 21:01:22 11:22:33"), want);
        assert_eq!(fmt("15 17 Apr 21:01:22"), want);
        assert_eq!(fmt("Sat, 15-Apr-17 ::00 21:01:22"), want);
        assert_eq!(fmt("Sat, 15-Apr-17 91:22:33 21:01:22"), None);
    }

    #[test]
    fn roundtrip_civil() {
        for days in [-200_000i64, -1, 0, 1, 59, 365, 11_016, 2_932_896] {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days);
        }
    }

    #[test]
    fn unix_f64() {
        let t = from_unix_f64(-86_400.5).expect("finite");
        assert!((to_unix_f64(t) + 86_400.5).abs() < 1e-6);
        assert!(from_unix_f64(f64::NAN).is_none());
        assert_eq!(
            format_http_date(from_unix_secs(i64::MAX)),
            "Fri, 31 Dec 9999 23:59:59 GMT"
        );
    }
}
