//! Go's `time.Time` as JSON (RFC 3339 with nanoseconds), and the proleptic Gregorian calendar
//! it needs.

use std::fmt::Write as _;

use super::Error;

/// A point in time with the UTC offset it is written in, formatted as Go's `time.Time` JSON
/// (RFC 3339, nanoseconds with trailing zeros trimmed).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct GoTime {
    /// Seconds since the Unix epoch.
    pub unix: i64,
    /// Nanoseconds, `0..1_000_000_000`.
    pub nanos: u32,
    /// Offset from UTC in seconds (0 = `Z`).
    pub offset: i32,
}

impl GoTime {
    /// A UTC time.
    pub fn utc(unix: i64, nanos: u32) -> GoTime {
        GoTime {
            unix: unix.saturating_add(i64::from(nanos / 1_000_000_000)),
            nanos: nanos % 1_000_000_000,
            offset: 0,
        }
    }

    /// Parses RFC 3339 (`2026-11-22T16:25:45.3546451Z`, `…+02:00`).
    pub fn parse(s: &str) -> Result<GoTime, Error> {
        let bad = |reason: &str| Error::Time {
            input: s.to_string(),
            reason: reason.to_string(),
        };
        let b = s.as_bytes();
        let num = |r: std::ops::Range<usize>| -> Result<i64, Error> {
            let part = b.get(r).ok_or_else(|| bad("too short"))?;
            if part.is_empty() || !part.iter().all(u8::is_ascii_digit) {
                return Err(bad("expected digits"));
            }
            Ok(part.iter().fold(0i64, |a, d| a * 10 + i64::from(d - b'0')))
        };
        if b.len() < 20
            || b[4] != b'-'
            || b[7] != b'-'
            || !matches!(b[10], b'T' | b't')
            || b[13] != b':'
            || b[16] != b':'
        {
            return Err(bad("expected YYYY-MM-DDTHH:MM:SS[.frac](Z|±HH:MM)"));
        }
        let (year, month, day) = (num(0..4)?, num(5..7)?, num(8..10)?);
        let (hour, min, sec) = (num(11..13)?, num(14..16)?, num(17..19)?);
        if !(1..=12).contains(&month)
            || day < 1
            || day > days_in_month(year, month)
            || hour > 23
            || min > 59
            || sec > 59
        {
            return Err(bad("field out of range"));
        }
        let mut i = 19;
        let mut nanos = 0u32;
        if b[i] == b'.' {
            let start = i + 1;
            let mut end = start;
            while end < b.len() && b[end].is_ascii_digit() {
                end += 1;
            }
            let digits = end - start;
            if digits == 0 || digits > 9 {
                return Err(bad("fraction must have 1 to 9 digits"));
            }
            let v = num(start..end)? as u32;
            nanos = v * 10u32.pow(9 - digits as u32);
            i = end;
        }
        let offset = match b.get(i) {
            Some(b'Z' | b'z') if i + 1 == b.len() => 0,
            Some(sign @ (b'+' | b'-')) if i + 6 == b.len() && b[i + 3] == b':' => {
                let (h, m) = (num(i + 1..i + 3)?, num(i + 4..i + 6)?);
                if h > 23 || m > 59 {
                    return Err(bad("offset out of range"));
                }
                let o = (h * 3600 + m * 60) as i32;
                if *sign == b'-' { -o } else { o }
            }
            _ => return Err(bad("expected Z or ±HH:MM after the seconds")),
        };
        let local = days_from_civil(year, month, day) * 86_400 + hour * 3600 + min * 60 + sec;
        Ok(GoTime {
            unix: local - i64::from(offset),
            nanos,
            offset,
        })
    }

    /// Go's `RFC3339Nano` text. Fails for years Go refuses to write (outside 0..=9999).
    pub fn format(&self) -> Result<String, Error> {
        let local = self.unix.saturating_add(i64::from(self.offset));
        let days = local.div_euclid(86_400);
        let secs = local.rem_euclid(86_400);
        let (y, m, d) = civil_from_days(days);
        if !(0..=9999).contains(&y) {
            return Err(Error::Time {
                input: format!("{}s since the epoch", self.unix),
                reason: "year outside [0,9999] (Go's json.Marshal refuses it)".into(),
            });
        }
        let mut s = format!(
            "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}",
            secs / 3600,
            secs / 60 % 60,
            secs % 60
        );
        if self.nanos > 0 {
            let frac = format!("{:09}", self.nanos);
            s.push('.');
            s.push_str(frac.trim_end_matches('0'));
        }
        if self.offset == 0 {
            s.push('Z');
        } else {
            let o = self.offset.unsigned_abs();
            let sign = if self.offset < 0 { '-' } else { '+' };
            let _ = write!(s, "{sign}{:02}:{:02}", o / 3600, o / 60 % 60);
        }
        Ok(s)
    }
}

impl std::fmt::Display for GoTime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.format() {
            Ok(s) => f.write_str(&s),
            Err(_) => write!(f, "@{}.{:09}", self.unix, self.nanos),
        }
    }
}

fn is_leap(y: i64) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

fn days_in_month(y: i64, m: i64) -> i64 {
    match m {
        2 if is_leap(y) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (eras of 400 years).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The inverse of [`days_from_civil`].
fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn check_time(s: &str) {
        let t = GoTime::parse(s).unwrap();
        assert_eq!(t.format().unwrap(), s);
    }

    #[test]
    fn times_round_trip_in_go_form() {
        check_time("2026-11-22T16:25:45.3546451Z");
        check_time("2026-11-22T16:25:46.010060016Z");
        check_time("1970-01-01T00:00:00Z");
        check_time("2000-02-29T23:59:59.1+05:30");
        check_time("1969-12-31T23:59:59.999999999-08:00");
        check_time("0001-01-01T00:00:00Z");
        assert_eq!(GoTime::parse("1970-01-01T00:00:01Z").unwrap().unix, 1);
        assert_eq!(GoTime::parse("1970-01-01T01:00:00+01:00").unwrap().unix, 0);
        assert_eq!(
            GoTime::parse("2026-11-22T16:25:45.500Z")
                .unwrap()
                .format()
                .unwrap(),
            "2026-11-22T16:25:45.5Z"
        );
        for bad in [
            "2026-02-30T00:00:00Z",
            "2026-11-22 16:25:45Z",
            "2026-11-22T16:25:45",
            "2026-11-22T16:25:45.Z",
            "2026-11-22T16:25:45.1234567890Z",
            "2026-11-22T16:25:45+0100",
            "",
        ] {
            assert!(GoTime::parse(bad).is_err(), "{bad}");
        }
        assert!(GoTime::utc(253_402_300_800, 0).format().is_err());
    }

    #[test]
    fn days_agree_with_a_known_calendar() {
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(days_from_civil(2000, 3, 1), 11_017);
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
        for d in [-800_000, -1, 0, 1, 59, 60, 365, 10_000, 2_932_896] {
            let (y, m, dd) = civil_from_days(d);
            assert_eq!(days_from_civil(y, m, dd), d);
        }
    }

    proptest::proptest! {
        #[test]
        fn times_round_trip(
            secs in -62_135_596_800i64..253_402_300_799,
            nanos in 0u32..1_000_000_000,
            offset_min in -1439i32..1439,
        ) {
            let t = GoTime { unix: secs, nanos, offset: offset_min * 60 };
            if let Ok(s) = t.format() {
                proptest::prop_assert_eq!(GoTime::parse(&s).unwrap(), t);
            }
        }
    }
}
