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
    /// The latest capture time: 2^63 - 1 ns, 2262-04-11T23:47:16.854775807Z, the limit of signed
    /// 64-bit nanoseconds (Linux `ktime_t`, Go's `UnixNano`). Times read from a capture saturate
    /// here, in order, and a timeout added to it (at most `u32::MAX` seconds, 136 years) still
    /// fits below `u64::MAX`: a deadline stays later than the time it counts from, so packets of
    /// one connection at this instant are not taken for the end of its idle timeout.
    pub const MAX: Timestamp = Timestamp {
        nanos: i64::MAX as u64,
    };

    pub const fn from_nanos(nanos: u64) -> Self {
        Self { nanos }
    }

    /// Seconds and a sub-second part in `units_per_sec` units (10^6 for µs, 10^9 for ns …), as
    /// a legacy pcap record holds them. Saturates at [`Timestamp::MAX`] instead of wrapping: a
    /// hostile file may claim any time.
    pub fn from_parts(secs: u64, frac: u64, units_per_sec: u64) -> Self {
        // Microseconds and nanoseconds, what legacy pcap files hold, without a division.
        let frac_nanos = match units_per_sec {
            0 => 0,
            1_000_000 => u128::from(frac) * 1_000,
            NANOS_PER_SEC => u128::from(frac),
            // u128 keeps 2^-n resolutions (pcapng if_tsresol with the high bit) exact.
            units => u128::from(frac) * u128::from(NANOS_PER_SEC) / u128::from(units),
        };
        // Every time before 2262 fits in u64 arithmetic: called per packet, it costs no more.
        if let Some(nanos) = u64::try_from(frac_nanos).ok().and_then(|f| {
            secs.checked_mul(NANOS_PER_SEC)
                .and_then(|n| n.checked_add(f))
        }) {
            return Self {
                nanos: nanos.min(Self::MAX.nanos),
            };
        }
        let nanos = u128::from(secs) * u128::from(NANOS_PER_SEC) + frac_nanos;
        Self::clamped(i128::try_from(nanos).unwrap_or(i128::MAX))
    }

    /// A count of `units_per_sec` units since the epoch, plus `offset_secs` seconds, as a pcapng
    /// packet's timestamp and its interface's `if_tsresol` and `if_tsoffset` give it (pcapng
    /// §4.2, §4.3). Computed exactly, then clamped to 1970 .. [`Timestamp::MAX`]: a later raw
    /// value never gives an earlier time, whatever the offset.
    pub fn from_units(raw: u64, units_per_sec: u64, offset_secs: i64) -> Self {
        let units = units_per_sec.max(1);
        let (secs, frac) = (raw / units, raw % units);
        // No offset or a positive one, what capture tools write: the per-packet path of
        // `from_parts`, which gives the same time.
        if let Some(secs) = u64::try_from(offset_secs)
            .ok()
            .and_then(|o| secs.checked_add(o))
        {
            return Self::from_parts(secs, frac, units);
        }
        // Below 10^9 ns: frac < units.
        let frac_nanos = u128::from(frac) * u128::from(NANOS_PER_SEC) / u128::from(units);
        // (2^64 + 2^63) × 10^9 stays far below i128::MAX (2^127).
        let nanos = (i128::from(secs) + i128::from(offset_secs)) * i128::from(NANOS_PER_SEC)
            + i128::try_from(frac_nanos).unwrap_or(0);
        Self::clamped(nanos)
    }

    fn clamped(nanos: i128) -> Self {
        Self {
            nanos: u64::try_from(nanos.clamp(0, i128::from(Self::MAX.nanos))).unwrap_or(0),
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
        assert_eq!(Timestamp::from_parts(u64::MAX, 1, 1), Timestamp::MAX);
    }

    #[test]
    fn pcapng_times_are_exact_and_clamped_in_order() {
        let ns = 1_000_000_000;
        assert_eq!(
            Timestamp::from_units(1_500_000_000, ns, 0).nanos(),
            1_500_000_000
        );
        assert_eq!(
            Timestamp::from_units(1_500_000, 1_000_000, 2).nanos(),
            3_500_000_000
        );
        assert_eq!(Timestamp::from_units(3, 1 << 1, 0).nanos(), 1_500_000_000);
        assert_eq!(Timestamp::from_units(5, 0, 0).nanos(), 5 * ns);
        // Past the latest time: every later raw value gives the same instant.
        assert_eq!(
            Timestamp::from_units(u64::MAX, ns, i64::MAX),
            Timestamp::MAX
        );
        assert_eq!(Timestamp::from_units(u64::MAX, 1, 0), Timestamp::MAX);
        // Before 1970: the whole time clamps to zero, not only its seconds (0.9 s and 1.1 s
        // minus 5 s are both zero, not 0.9 s and 0.1 s).
        let early = |raw| Timestamp::from_units(raw, 10, -5);
        assert_eq!((early(9), early(11)), (Timestamp::ZERO, Timestamp::ZERO));
        assert_eq!(Timestamp::from_units(5, 1, i64::MIN), Timestamp::ZERO);
        assert_eq!(Timestamp::from_units(u64::MAX, 1, i64::MIN), Timestamp::MAX);
        // In order across the whole range.
        let mut last = Timestamp::ZERO;
        for raw in [0, 1, 1 << 40, 1 << 62, u64::MAX - 1, u64::MAX] {
            for offset in [i64::MIN, -1, 0, 1, 1 << 33, i64::MAX] {
                let _ = Timestamp::from_units(raw, 7, offset);
            }
            let t = Timestamp::from_units(raw, ns, 1 << 33);
            assert!(t >= last);
            last = t;
        }
        // A timeout counted from the latest time is still later than it.
        let deadline = Timestamp::MAX.saturating_add(Duration::from_secs(u64::from(u32::MAX)));
        assert!(deadline > Timestamp::MAX);
    }

    #[test]
    fn duration_rounds_to_microseconds() {
        assert_eq!(Duration::from_nanos(1_550_793_400).as_secs_f64(), 1.550793);
        assert_eq!(Duration::from_nanos(1_550_793_600).as_secs_f64(), 1.550794);
    }
}
