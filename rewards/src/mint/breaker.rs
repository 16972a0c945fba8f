//! The circuit breaker: refuse to mint when the amounts minted within the rolling window, plus
//! those in flight, plus what this manifest still needs would exceed
//! `limits.mint_window_emissions x emission_for(epoch)` of the parameter set in force (Helium's
//! default: 5 epoch emissions per 24 h). Pure: the caller reads the ledger and the clock.

use super::error::MintError;
use schemas::parameters::ParameterSet;
use std::time::{Duration, UNIX_EPOCH};

/// An amount the breaker counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WindowEntry {
    /// Base units.
    pub amount: u64,
    /// When the chain confirmed it; `None` while in flight (planned, signed or sent), which
    /// counts whatever the time.
    pub confirmed_ms: Option<u64>,
}

/// Checks `needed` more base units for `epoch` at `now_ms` against the window of `parameters`
/// (the set in force for `epoch`). `entries` are every ledger amount other than `needed`.
pub fn check(
    epoch: u64,
    parameters: &ParameterSet,
    now_ms: u64,
    entries: &[WindowEntry],
    needed: u64,
) -> Result<(), MintError> {
    let window_ms = u64::try_from(parameters.limits.mint_window.as_millis()).unwrap_or(u64::MAX);
    let emission = parameters.emission_for(epoch);
    let emissions = parameters.limits.mint_window_emissions;
    let limit = u128::from(emission) * u128::from(emissions);
    let in_window = |e: &&WindowEntry| match e.confirmed_ms {
        None => true,
        Some(at) => at.saturating_add(window_ms) > now_ms,
    };
    let counted: Vec<&WindowEntry> = entries.iter().filter(in_window).collect();
    let used: u128 = counted.iter().map(|e| u128::from(e.amount)).sum();
    if used + u128::from(needed) <= limit {
        return Ok(());
    }
    let in_flight: u128 = counted
        .iter()
        .filter(|e| e.confirmed_ms.is_none())
        .map(|e| u128::from(e.amount))
        .sum();
    let frees = if u128::from(needed) > limit {
        "this manifest alone exceeds the limit: only a governance change of `limits` can allow it"
            .to_string()
    } else if in_flight + u128::from(needed) > limit {
        "waiting does not help: amounts still in flight (unfinished plans of other epochs) fill the window; finish those first".to_string()
    } else {
        let mut confirmed: Vec<(u64, u64)> = counted
            .iter()
            .filter_map(|e| e.confirmed_ms.map(|at| (at, e.amount)))
            .collect();
        confirmed.sort_unstable();
        let mut remaining = used;
        let mut frees_at = now_ms;
        for (at, amount) in confirmed {
            remaining -= u128::from(amount);
            frees_at = at.saturating_add(window_ms);
            if remaining + u128::from(needed) <= limit {
                break;
            }
        }
        let wait = Duration::from_millis(frees_at.saturating_sub(now_ms));
        format!(
            "room frees up at {} (in {})",
            humantime::format_rfc3339_seconds(UNIX_EPOCH + Duration::from_millis(frees_at)),
            humantime::format_duration(Duration::from_secs(wait.as_secs().max(1)))
        )
    };
    Err(MintError::CircuitBreaker {
        epoch,
        used: clamp(used),
        needed,
        limit: clamp(limit),
        emissions,
        emission,
        window: humantime::format_duration(parameters.limits.mint_window).to_string(),
        frees,
    })
}

fn clamp(value: u128) -> u64 {
    u64::try_from(value).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOUR_MS: u64 = 3_600_000;

    fn parameters() -> ParameterSet {
        let mut set = ParameterSet::default();
        set.emission.per_epoch = 1_000;
        set.emission.halving_epochs = 0;
        set.emission.genesis_epoch = 0;
        set.limits.mint_window_emissions = 5;
        set.limits.mint_window = Duration::from_secs(24 * 3600);
        set
    }

    fn confirmed(amount: u64, at: u64) -> WindowEntry {
        WindowEntry {
            amount,
            confirmed_ms: Some(at),
        }
    }

    #[test]
    fn allows_up_to_the_limit_and_forgets_old_mints() {
        let now = 100 * HOUR_MS;
        let entries = [
            confirmed(4_000, now - HOUR_MS),
            confirmed(9_000, now - 24 * HOUR_MS),
        ];
        check(1, &parameters(), now, &entries, 1_000).expect("exactly the limit");
        assert!(check(1, &parameters(), now, &entries, 1_001).is_err());
    }

    #[test]
    fn refusal_names_the_numbers_and_when_room_frees_up() {
        let now = 100 * HOUR_MS;
        let entries = [
            confirmed(2_000, now - 20 * HOUR_MS),
            confirmed(2_000, now - 2 * HOUR_MS),
            WindowEntry {
                amount: 500,
                confirmed_ms: None,
            },
        ];
        let err = check(3, &parameters(), now, &entries, 1_000).expect_err("over");
        let MintError::CircuitBreaker {
            used,
            needed,
            limit,
            ref frees,
            ..
        } = err
        else {
            panic!("{err:?}");
        };
        assert_eq!((used, needed, limit), (4_500, 1_000, 5_000));
        // The mint of 20 h ago leaves the window in 4 h.
        assert!(frees.contains("in 4h"), "{frees}");
        assert!(err.to_string().contains("4500 base units"), "{err}");
    }

    #[test]
    fn in_flight_amounts_never_expire() {
        let now = 100 * HOUR_MS;
        let entries = [WindowEntry {
            amount: 4_500,
            confirmed_ms: None,
        }];
        let err = check(3, &parameters(), now, &entries, 1_000).expect_err("over");
        assert!(err.to_string().contains("in flight"), "{err}");
        let err = check(3, &parameters(), now, &[], 6_000).expect_err("alone");
        assert!(err.to_string().contains("alone exceeds"), "{err}");
    }
}
