//! The rules a parameter change must pass, as pure functions over plain data (the database and
//! the clock are read by [`super::store`]).
//!
//! - `version` is exactly the latest applied version + 1 (the built-in genesis is version 1).
//! - `effective_epoch` is strictly after the current epoch by the clock and after every epoch
//!   that already has a reward manifest, so a change never rewrites what was paid or is being
//!   verified; and not before the latest applied version's effective epoch (a new version may
//!   replace a scheduled one at the same epoch, never slip in before it).
//! - The epoch length equals the genesis set's (epochs are numbered by it).
//! - The values are valid ([`ParameterSet::validate`]) and the verifier table agrees with the
//!   set (its `ruleset` is known, its `epoch`, when given, equals the set's).

use schemas::parameters::ParameterSet;
use std::time::Duration;

/// What a change is checked against: the applied history, the reward manifests and the clock.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GovernanceState {
    /// The latest applied version (1 when only the built-in genesis is in force).
    pub latest_version: u64,
    /// The effective epoch of that version (0 for genesis).
    pub latest_effective_epoch: u64,
    /// Epoch length of the genesis set.
    pub genesis_epoch_length: Duration,
    /// The epoch the clock is in (numbered by the genesis epoch length).
    pub current_epoch: u64,
    /// The latest epoch with a stored reward manifest, if any.
    pub last_manifest_epoch: Option<u64>,
}

/// A broken governance rule.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RuleError {
    /// The version is not the next one.
    #[error("version {version} is not the next version: the latest applied is {latest}, so the proposal must be version {}", latest + 1)]
    Version {
        /// The proposal's version.
        version: u64,
        /// The latest applied version.
        latest: u64,
    },
    /// The effective epoch is not in the future.
    #[error(
        "effective_epoch {effective_epoch} is not in the future: the current epoch is {current_epoch}"
    )]
    NotInFuture {
        /// The proposal's effective epoch.
        effective_epoch: u64,
        /// The epoch the clock is in.
        current_epoch: u64,
    },
    /// An epoch at or after the effective epoch already has a reward manifest.
    #[error(
        "effective_epoch {effective_epoch} is not after epoch {manifest_epoch}, which already has a reward manifest"
    )]
    AlreadyRewarded {
        /// The proposal's effective epoch.
        effective_epoch: u64,
        /// The latest rewarded epoch.
        manifest_epoch: u64,
    },
    /// The effective epoch is before the latest applied version's.
    #[error(
        "effective_epoch {effective_epoch} is before epoch {scheduled}, where version {version} takes effect"
    )]
    BeforeScheduled {
        /// The proposal's effective epoch.
        effective_epoch: u64,
        /// The latest applied version.
        version: u64,
        /// Its effective epoch.
        scheduled: u64,
    },
    /// The epoch length differs from genesis.
    #[error(
        "epoch length {proposed} differs from the genesis epoch length {genesis}; it can never change"
    )]
    EpochLength {
        /// The proposal's epoch length.
        proposed: String,
        /// The genesis epoch length.
        genesis: String,
    },
    /// A value is invalid.
    #[error("invalid parameters: {0}")]
    Invalid(String),
    /// The genesis set cannot be stored.
    #[error("genesis refused: {0}")]
    Genesis(String),
}

/// Checks a proposed change against `state`.
pub fn check_change(set: &ParameterSet, state: &GovernanceState) -> Result<(), RuleError> {
    check_values(set)?;
    if set.version != state.latest_version.saturating_add(1) {
        return Err(RuleError::Version {
            version: set.version,
            latest: state.latest_version,
        });
    }
    if set.effective_epoch <= state.current_epoch {
        return Err(RuleError::NotInFuture {
            effective_epoch: set.effective_epoch,
            current_epoch: state.current_epoch,
        });
    }
    if let Some(manifest_epoch) = state.last_manifest_epoch
        && set.effective_epoch <= manifest_epoch
    {
        return Err(RuleError::AlreadyRewarded {
            effective_epoch: set.effective_epoch,
            manifest_epoch,
        });
    }
    if set.effective_epoch < state.latest_effective_epoch {
        return Err(RuleError::BeforeScheduled {
            effective_epoch: set.effective_epoch,
            version: state.latest_version,
            scheduled: state.latest_effective_epoch,
        });
    }
    check_epoch_length(set, state.genesis_epoch_length)
}

/// Checks an explicit genesis set: version 1 from epoch 0, with the epoch length of every set
/// already applied (`applied_epoch_lengths`), before any epoch was rewarded.
pub fn check_genesis(
    set: &ParameterSet,
    genesis_stored: bool,
    any_manifest: bool,
    applied_epoch_lengths: &[Duration],
) -> Result<(), RuleError> {
    check_values(set)?;
    let refuse = |m: &str| Err(RuleError::Genesis(m.to_string()));
    if set.version != 1 || set.effective_epoch != 0 {
        return refuse("the genesis set is version = 1 with effective_epoch = 0");
    }
    if genesis_stored {
        return refuse("a genesis set is already stored; change parameters with a signed proposal");
    }
    if any_manifest {
        return refuse(
            "epochs were already rewarded under the built-in genesis; change parameters with a signed proposal",
        );
    }
    for length in applied_epoch_lengths {
        check_epoch_length(set, *length)?;
    }
    Ok(())
}

fn check_epoch_length(set: &ParameterSet, genesis: Duration) -> Result<(), RuleError> {
    if set.epoch != genesis {
        return Err(RuleError::EpochLength {
            proposed: humantime::format_duration(set.epoch).to_string(),
            genesis: humantime::format_duration(genesis).to_string(),
        });
    }
    Ok(())
}

/// The set's own validation plus what governance can check of the oracle's verifier table
/// (the oracle parses the whole table when it loads the set).
pub fn check_values(set: &ParameterSet) -> Result<(), RuleError> {
    set.validate()
        .map_err(|e| RuleError::Invalid(e.to_string()))?;
    let invalid = |m: String| Err(RuleError::Invalid(m));
    match set.verifier.get("ruleset") {
        None => {}
        Some(toml::Value::String(name)) if name == "default" || name == "helium" => {}
        Some(other) => {
            return invalid(format!(
                "verifier.ruleset must be \"default\" or \"helium\", not {other}"
            ));
        }
    }
    if let Some(epoch) = set.verifier.get("epoch") {
        let parsed = epoch
            .as_str()
            .and_then(|text| humantime::parse_duration(text).ok());
        if parsed != Some(set.epoch) {
            return invalid(format!(
                "verifier.epoch {epoch} must equal the set's epoch ({}), or be left out",
                humantime::format_duration(set.epoch)
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state() -> GovernanceState {
        GovernanceState {
            latest_version: 1,
            latest_effective_epoch: 0,
            genesis_epoch_length: Duration::from_secs(24 * 3600),
            current_epoch: 100,
            last_manifest_epoch: Some(99),
        }
    }

    fn proposal(version: u64, effective_epoch: u64) -> ParameterSet {
        ParameterSet {
            version,
            effective_epoch,
            ..ParameterSet::default()
        }
    }

    #[test]
    fn the_next_version_in_the_future_passes() {
        assert_eq!(check_change(&proposal(2, 101), &state()), Ok(()));
    }

    #[test]
    fn version_must_be_the_next() {
        for version in [1, 3, 10] {
            assert_eq!(
                check_change(&proposal(version, 101), &state()),
                Err(RuleError::Version { version, latest: 1 })
            );
        }
    }

    #[test]
    fn effective_epoch_must_be_in_the_future() {
        for epoch in [0, 99, 100] {
            assert_eq!(
                check_change(&proposal(2, epoch), &state()),
                Err(RuleError::NotInFuture {
                    effective_epoch: epoch,
                    current_epoch: 100
                })
            );
        }
        let rewarded_ahead = GovernanceState {
            last_manifest_epoch: Some(105),
            ..state()
        };
        assert_eq!(
            check_change(&proposal(2, 105), &rewarded_ahead),
            Err(RuleError::AlreadyRewarded {
                effective_epoch: 105,
                manifest_epoch: 105
            })
        );
        assert_eq!(check_change(&proposal(2, 106), &rewarded_ahead), Ok(()));
    }

    #[test]
    fn a_version_cannot_slip_in_before_a_scheduled_one() {
        let scheduled = GovernanceState {
            latest_version: 2,
            latest_effective_epoch: 120,
            ..state()
        };
        assert!(matches!(
            check_change(&proposal(3, 110), &scheduled),
            Err(RuleError::BeforeScheduled { scheduled: 120, .. })
        ));
        assert_eq!(
            check_change(&proposal(3, 120), &scheduled),
            Ok(()),
            "replacing a scheduled change at the same epoch is allowed"
        );
    }

    #[test]
    fn epoch_length_and_values_are_checked() {
        let mut longer = proposal(2, 101);
        longer.epoch = Duration::from_secs(12 * 3600);
        assert!(matches!(
            check_change(&longer, &state()),
            Err(RuleError::EpochLength { .. })
        ));
        let mut split = proposal(2, 101);
        split.split.beacon_bps = 9_000;
        assert!(matches!(
            check_change(&split, &state()),
            Err(RuleError::Invalid(_))
        ));
        let mut ruleset = proposal(2, 101);
        ruleset
            .verifier
            .insert("ruleset".into(), toml::Value::String("lenient".into()));
        assert!(matches!(
            check_change(&ruleset, &state()),
            Err(RuleError::Invalid(_))
        ));
        let mut verifier_epoch = proposal(2, 101);
        verifier_epoch
            .verifier
            .insert("epoch".into(), toml::Value::String("1h".into()));
        assert!(matches!(
            check_change(&verifier_epoch, &state()),
            Err(RuleError::Invalid(_))
        ));
        verifier_epoch
            .verifier
            .insert("epoch".into(), toml::Value::String("24h".into()));
        assert_eq!(check_change(&verifier_epoch, &state()), Ok(()));
    }

    #[test]
    fn genesis_only_once_and_before_any_reward() {
        let day = [Duration::from_secs(24 * 3600)];
        let genesis = ParameterSet::default();
        assert_eq!(check_genesis(&genesis, false, false, &day), Ok(()));
        assert!(check_genesis(&genesis, true, false, &[]).is_err());
        assert!(check_genesis(&genesis, false, true, &[]).is_err());
        assert!(check_genesis(&proposal(2, 0), false, false, &[]).is_err());
        assert!(check_genesis(&proposal(1, 5), false, false, &[]).is_err());
        let mut hourly = genesis.clone();
        hourly.epoch = Duration::from_secs(3600);
        assert!(matches!(
            check_genesis(&hourly, false, false, &day),
            Err(RuleError::EpochLength { .. })
        ));
    }
}
