//! Capture time. Every timestamp in exaudit comes from a packet; nothing reads the clock.

use std::fmt;

/// Nanoseconds since the Unix epoch, as written in the capture.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Timestamp {
    nanos: u64,
}

/// A span of capture time in nanoseconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Duration {
    nanos: u64,
}

const NANOS_PER_SEC: u64 = 1_000_000_000;

impl Timestamp {
    pub const ZERO: Timestamp = Timestamp { nanos: 0 };

    pub const fn from_nanos(nanos: u64) -> Self {
        Self { nanos }
    }

    /// Seconds and a sub-second part in `units_per_sec` units (10^6 for µs, 10^9 for ns …).
    /// Saturates instead of wrapping: a hostile file may claim any time.
    pub fn from_parts(secs: u64, frac: u64, units_per_sec: u64) -> Self {
        let frac_nanos = if units_per_sec == 0 {
            0
        } else {
            // u128 keeps 2^-n resolutions (pcapng if_tsresol with the high bit) exact.
            let n = u128::from(frac) * u128::from(NANOS_PER_SEC) / u128::from(units_per_sec);
            u64::try_from(n).unwrap_or(u64::MAX)
        };
        Self {
            nanos: secs
                .saturating_mul(NANOS_PER_SEC)
                .saturating_add(frac_nanos),
        }
    }

    pub const fn nanos(self) -> u64 {
        self.nanos
    }

    pub const fn secs(self) -> u64 {
        self.nanos / NANOS_PER_SEC
    }

    pub const fn subsec_nanos(self) -> u32 {
        // The remainder is below 10^9 and fits in u32.
        (self.nanos % NANOS_PER_SEC) as u32
    }

    pub fn saturating_add(self, d: Duration) -> Self {
        Self {
            nanos: self.nanos.saturating_add(d.nanos),
        }
    }

    /// Time from `earlier` to `self`; zero if `earlier` is later (captures are not always sorted).
    pub fn since(self, earlier: Timestamp) -> Duration {
        Duration {
            nanos: self.nanos.saturating_sub(earlier.nanos),
        }
    }
}

impl Duration {
    pub const ZERO: Duration = Duration { nanos: 0 };

    pub const fn from_secs(secs: u64) -> Self {
        Self {
            nanos: secs.saturating_mul(NANOS_PER_SEC),
        }
    }

    pub const fn from_millis(ms: u64) -> Self {
        Self {
            nanos: ms.saturating_mul(1_000_000),
        }
    }

    pub const fn from_nanos(nanos: u64) -> Self {
        Self { nanos }
    }

    pub const fn nanos(self) -> u64 {
        self.nanos
    }

    /// Seconds as a float, rounded to microseconds the way Zeek prints `duration`.
    pub fn as_secs_f64(self) -> f64 {
        let micros = self.nanos.saturating_add(500) / 1_000;
        // Precision loss only past 2^53 µs (285 years).
        #[allow(
            clippy::cast_precision_loss,
            reason = "durations stay far below 2^53 µs"
        )]
        let f = micros as f64 / 1e6;
        f
    }
}

impl Timestamp {
    /// Length of [`Timestamp::rfc3339`]'s output.
    pub const RFC3339_LEN: usize = 27;

    /// RFC 3339 in UTC with microseconds: `2009-11-18T16:42:06.123456Z` (years past 9999 are
    /// written modulo 10000; captures do not reach them).
    pub fn rfc3339(self) -> [u8; Self::RFC3339_LEN] {
        let secs = self.secs();
        let micros = u64::from(self.subsec_nanos() / 1_000);
        let (y, m, d) = civil_from_days(secs / 86_400);
        let rem = secs % 86_400;
        let mut out = *b"0000-00-00T00:00:00.000000Z";
        let mut put = |at: usize, width: usize, mut v: u64| {
            for i in (at..at + width).rev() {
                if let Some(slot) = out.get_mut(i) {
                    *slot = b'0' + u8::try_from(v % 10).unwrap_or(0);
                }
                v /= 10;
            }
        };
        put(0, 4, y);
        put(5, 2, m);
        put(8, 2, d);
        put(11, 2, rem / 3600);
        put(14, 2, (rem % 3600) / 60);
        put(17, 2, rem % 60);
        put(20, 6, micros);
        out
    }
}

impl fmt::Display for Timestamp {
    /// RFC 3339 in UTC with microseconds: `2009-11-18T16:42:06.123456Z`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let b = self.rfc3339();
        // Only ASCII digits and separators are written.
        f.write_str(std::str::from_utf8(&b).unwrap_or("invalid time"))
    }
}

/// Days since 1970-01-01 to a proleptic Gregorian date (H. Hinnant's civil-from-days algorithm).
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + u64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_rfc3339_with_microseconds() {
        let t = Timestamp::from_parts(1_258_562_526, 123_456, 1_000_000);
        assert_eq!(t.to_string(), "2009-11-18T16:42:06.123456Z");
        assert_eq!(Timestamp::ZERO.to_string(), "1970-01-01T00:00:00.000000Z");
        // Leap day.
        let t = Timestamp::from_parts(951_782_400, 0, 1);
        assert_eq!(t.to_string(), "2000-02-29T00:00:00.000000Z");
    }

    #[test]
    fn converts_resolutions() {
        assert_eq!(
            Timestamp::from_parts(1, 5, 1_000_000_000).nanos(),
            1_000_000_005
        );
        assert_eq!(
            Timestamp::from_parts(1, 5, 1_000_000).nanos(),
            1_000_005_000
        );
        assert_eq!(
            Timestamp::from_parts(1, 5_000, 1_000_000_000_000).nanos(),
            1_000_000_005
        );
        assert_eq!(Timestamp::from_parts(u64::MAX, 1, 1).nanos(), u64::MAX);
    }

    #[test]
    fn duration_rounds_to_microseconds() {
        assert_eq!(Duration::from_nanos(1_550_793_400).as_secs_f64(), 1.550793);
        assert_eq!(Duration::from_nanos(1_550_793_600).as_secs_f64(), 1.550794);
    }
}
