//! When to beacon: gateway-rs `mk_next_beacon_time`.
//!
//! Time is split into `interval`-long segments aligned to the Unix epoch. The next beacon is a
//! uniformly random time in the current segment when that time is still ahead (and the agent has
//! not beaconed in this segment yet), otherwise a uniformly random time in the next segment. So
//! there is at most one beacon per segment, matching the verifier's beacon-interval check.
//!
//! Unlike gateway-rs, the last tenth of each segment (at most 5 minutes) is never picked: the
//! oracle buckets beacons by the time it *receives* the report, so a beacon sent in a segment's
//! last instant could land in the next bucket and collide with that segment's beacon
//! (`irregular_interval`).

use rand::Rng;
use std::time::Duration;

/// The segment length in milliseconds, at least 1.
fn interval_ms(interval: Duration) -> u64 {
    u64::try_from(interval.as_millis())
        .unwrap_or(u64::MAX)
        .max(1)
}

/// The guard at the end of each segment in which no beacon is scheduled.
pub fn end_margin_ms(interval: Duration) -> u64 {
    (interval_ms(interval) / 10).min(5 * 60 * 1000)
}

/// Index of the `interval`-long epoch-aligned segment containing `t_ms`.
pub fn segment_of(t_ms: u64, interval: Duration) -> u64 {
    t_ms / interval_ms(interval)
}

/// The next beacon time (ms since the epoch), strictly after `now_ms` and in a later segment
/// than `last_beacon_segment`.
pub fn next_beacon_time<R: Rng + ?Sized>(
    now_ms: u64,
    interval: Duration,
    last_beacon_segment: Option<u64>,
    rng: &mut R,
) -> u64 {
    let length = interval_ms(interval);
    let usable = (length - end_margin_ms(interval)).max(1);
    let current = now_ms / length;
    let mut pick = |segment: u64| {
        segment
            .saturating_mul(length)
            .saturating_add(rng.random_range(0..usable))
    };
    if last_beacon_segment.is_none_or(|last| last < current) {
        let candidate = pick(current);
        if candidate > now_ms {
            return candidate;
        }
    }
    let next = last_beacon_segment
        .map_or(current, |last| last.max(current))
        .saturating_add(1);
    pick(next)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    const HOUR: Duration = Duration::from_secs(3600);
    const HOUR_MS: u64 = 3_600_000;

    #[test]
    fn one_beacon_per_segment_and_never_in_the_past() {
        let mut rng = StdRng::seed_from_u64(1);
        let mut now = 1_700_000_123_456;
        let mut last = None;
        for _ in 0..5_000 {
            let at = next_beacon_time(now, HOUR, last, &mut rng);
            assert!(at > now, "beacon at {at} is not after now {now}");
            let segment = segment_of(at, HOUR);
            if let Some(last) = last {
                assert!(segment > last, "two beacons in segment {segment}");
            }
            last = Some(segment);
            // The agent wakes at (or slightly after) the planned time.
            now = at + rng.random_range(0..1_000);
        }
    }

    #[test]
    fn never_in_the_end_margin() {
        let mut rng = StdRng::seed_from_u64(3);
        assert_eq!(end_margin_ms(HOUR), 5 * 60 * 1000);
        assert_eq!(end_margin_ms(Duration::from_secs(120)), 12_000);
        for i in 0..10_000u64 {
            let at = next_beacon_time(i * 7_919, HOUR, None, &mut rng);
            assert!(
                at % HOUR_MS < HOUR_MS - end_margin_ms(HOUR),
                "{at} is in the end margin"
            );
        }
    }

    #[test]
    fn picks_in_the_current_segment_when_still_ahead() {
        let mut rng = StdRng::seed_from_u64(2);
        let segment_start = 1_000 * HOUR_MS;
        // At the very start of a segment almost every pick is still ahead.
        let in_current = (0..1_000)
            .filter(|_| {
                segment_of(next_beacon_time(segment_start, HOUR, None, &mut rng), HOUR) == 1_000
            })
            .count();
        assert!(in_current > 990, "{in_current}");
        // After beaconing in this segment, the next beacon is in the next one.
        let at = next_beacon_time(segment_start, HOUR, Some(1_000), &mut rng);
        assert_eq!(segment_of(at, HOUR), 1_001);
    }

    #[test]
    fn uniform_within_the_segment_bounds() {
        let mut rng = StdRng::seed_from_u64(3);
        let segment_start = 2_000 * HOUR_MS;
        // Just before the segment, with a beacon already sent in the previous one: every pick
        // lands in the next segment.
        let now = segment_start - 1;
        let usable = HOUR_MS - end_margin_ms(HOUR);
        let mut buckets = [0u32; 10];
        let draws = 20_000;
        for _ in 0..draws {
            let at = next_beacon_time(now, HOUR, Some(1_999), &mut rng);
            assert!(
                (segment_start..segment_start + usable).contains(&at),
                "{at} out of bounds"
            );
            buckets[((at - segment_start) * 10 / usable) as usize] += 1;
        }
        let expected = draws / 10;
        for (i, count) in buckets.iter().enumerate() {
            assert!(
                count.abs_diff(expected) < expected / 10,
                "bucket {i}: {count} vs {expected}"
            );
        }
    }

    #[test]
    fn a_zero_interval_does_not_panic() {
        let mut rng = StdRng::seed_from_u64(4);
        assert!(next_beacon_time(10, Duration::ZERO, None, &mut rng) > 10);
    }
}
