//! The verifier parameters in force for an epoch.
//!
//! Precedence: when governance has applied parameter sets (`parameter_sets`, written by
//! `rewards governance`), an epoch is verified under the `verifier` table of the set in force
//! for it (the highest version whose `effective_epoch` is at most the epoch, exactly as
//! `db::parameters::in_force`). An epoch that no applied set covers (no set applied at all, or
//! only later ones) is verified under the oracle's own `[verifier]` settings, which thus act as
//! the genesis and as the parameters of local scenarios. In both cases the entropy lifespan is
//! the oracle's `[entropy] lifespan` (it describes the entropy this oracle publishes).
//!
//! A governance `verifier` table is read like the `[verifier]` settings table: the values of
//! its `ruleset`, then every key it sets ([`VerifierParams::from_toml`]). Its epoch length is
//! the set's.
//!
//! [`resolve`] is pure; [`EpochParams`] caches the result per epoch, so the database is read
//! once per epoch (a change only ever takes effect at a future epoch).

use super::VerifierParams;
use schemas::parameters::ParameterSet;
use sqlx::AnyPool;
use std::collections::HashMap;
use std::sync::Arc;

/// At most this many epochs are cached (old epochs are only verified after a restart).
const CACHED_EPOCHS: usize = 64;

/// Where the parameters of an epoch come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// The oracle's `[verifier]` settings.
    Settings,
    /// The applied governance parameter set of this version.
    Governance(u64),
}

/// The parameters in force for an epoch and where they come from.
#[derive(Debug, Clone, PartialEq)]
pub struct InForce {
    /// Settings or a governance version.
    pub source: Source,
    /// The parameters.
    pub params: VerifierParams,
}

/// Why governance parameters cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum GovernedError {
    /// Reading the applied sets failed.
    #[error(transparent)]
    Read(#[from] db::parameters::ParametersError),
    /// An applied set's verifier table is not valid verifier parameters.
    #[error(
        "the verifier table of governance parameter set version {version} is invalid: {reason}"
    )]
    Invalid {
        /// The set's version.
        version: u64,
        /// What is wrong.
        reason: String,
    },
    /// The oracle's epoch length differs from the governance epoch length.
    #[error(
        "verifier.epoch is {settings} in the oracle settings but {governance} in the governance parameter set (version {version}); they must be equal"
    )]
    EpochLength {
        /// The oracle's `verifier.epoch`.
        settings: String,
        /// The parameter set's epoch.
        governance: String,
        /// The set's version (1 is the built-in genesis when none is stored).
        version: u64,
    },
}

/// The verifier parameters of an applied set, or an error naming its version.
pub fn from_set(
    set: &ParameterSet,
    fallback: &VerifierParams,
) -> Result<VerifierParams, GovernedError> {
    let invalid = |reason: String| GovernedError::Invalid {
        version: set.version,
        reason,
    };
    let mut params = VerifierParams::from_toml(set.verifier.clone()).map_err(invalid)?;
    if set.verifier.contains_key("epoch") && params.epoch != set.epoch {
        return Err(invalid(format!(
            "verifier.epoch differs from the set's epoch {}",
            humantime::format_duration(set.epoch)
        )));
    }
    params.epoch = set.epoch;
    params.entropy_lifespan = fallback.entropy_lifespan;
    params.validate().map_err(invalid)?;
    Ok(params)
}

/// The parameters in force for `epoch` given the applied sets (any order) and the oracle's
/// settings (`fallback`).
pub fn resolve(
    applied: &[ParameterSet],
    epoch: u64,
    fallback: &VerifierParams,
) -> Result<InForce, GovernedError> {
    let in_force = applied
        .iter()
        .filter(|set| set.effective_epoch <= epoch)
        .max_by_key(|set| set.version);
    Ok(match in_force {
        None => InForce {
            source: Source::Settings,
            params: fallback.clone(),
        },
        Some(set) => InForce {
            source: Source::Governance(set.version),
            params: from_set(set, fallback)?,
        },
    })
}

/// Refuses an oracle whose epoch length differs from the genesis parameter set's (stored, or
/// the built-in one), or when an applied set's verifier table is invalid.
pub fn check_startup(
    applied: &[ParameterSet],
    settings: &VerifierParams,
) -> Result<(), GovernedError> {
    let genesis = applied
        .iter()
        .min_by_key(|set| set.version)
        .filter(|set| set.effective_epoch == 0)
        .cloned()
        .unwrap_or_default();
    for set in std::iter::once(&genesis).chain(applied) {
        if set.epoch != settings.epoch {
            return Err(GovernedError::EpochLength {
                settings: humantime::format_duration(settings.epoch).to_string(),
                governance: humantime::format_duration(set.epoch).to_string(),
                version: set.version,
            });
        }
    }
    for set in applied {
        from_set(set, settings)?;
    }
    Ok(())
}

/// What `oracle check-parameters` checks: `set`'s verifier table yields valid parameters and
/// its epoch length is this oracle's. Returns the parameters the verifier would use.
pub fn check_parameters(
    set: &ParameterSet,
    settings: &VerifierParams,
) -> Result<VerifierParams, GovernedError> {
    check_startup(std::slice::from_ref(set), settings)?;
    from_set(set, settings)
}

/// Per-epoch cache of [`resolve`] over the database's applied sets.
#[derive(Debug)]
pub struct EpochParams {
    fallback: VerifierParams,
    cache: HashMap<u64, Arc<InForce>>,
}

impl EpochParams {
    /// A cache with the oracle's settings as fallback.
    pub fn new(fallback: VerifierParams) -> Self {
        Self {
            fallback,
            cache: HashMap::new(),
        }
    }

    /// The parameters in force for `epoch` (read from `pool` the first time an epoch is asked).
    pub async fn for_epoch(
        &mut self,
        pool: &AnyPool,
        epoch: u64,
    ) -> Result<Arc<InForce>, GovernedError> {
        if let Some(hit) = self.cache.get(&epoch) {
            return Ok(Arc::clone(hit));
        }
        let applied = db::parameters::history(pool).await?;
        let in_force = Arc::new(resolve(&applied, epoch, &self.fallback)?);
        if self.cache.len() >= CACHED_EPOCHS {
            self.cache.clear();
        }
        self.cache.insert(epoch, Arc::clone(&in_force));
        Ok(in_force)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn set(version: u64, effective_epoch: u64, verifier: &str) -> ParameterSet {
        ParameterSet {
            version,
            effective_epoch,
            verifier: toml::from_str(verifier).expect("toml"),
            ..ParameterSet::default()
        }
    }

    fn settings() -> VerifierParams {
        VerifierParams {
            max_distance_km: 77,
            entropy_lifespan: Duration::from_secs(42),
            ..VerifierParams::default()
        }
    }

    #[test]
    fn settings_until_a_set_applies_then_the_set_in_force() {
        let applied = [
            set(2, 10, "max_distance_km = 5"),
            set(3, 20, "ruleset = \"helium\""),
        ];
        let at = |epoch| resolve(&applied, epoch, &settings()).expect("resolve");
        assert_eq!(at(9).source, Source::Settings);
        assert_eq!(at(9).params.max_distance_km, 77);
        assert_eq!(at(10).source, Source::Governance(2));
        assert_eq!(at(10).params.max_distance_km, 5);
        assert_eq!(
            at(10).params.entropy_lifespan,
            Duration::from_secs(42),
            "the oracle's entropy lifespan"
        );
        assert_eq!(at(19).source, Source::Governance(2));
        let helium = at(20);
        assert_eq!(helium.source, Source::Governance(3));
        assert_eq!(helium.params.ruleset, super::super::params::Ruleset::Helium);
        assert_eq!(
            helium.params.max_distance_km, 100,
            "the ruleset's value, not the settings'"
        );
    }

    #[test]
    fn invalid_tables_and_epoch_lengths_are_refused() {
        let bad = [set(2, 10, "no_such_threshold = 1")];
        assert!(matches!(
            resolve(&bad, 10, &settings()),
            Err(GovernedError::Invalid { version: 2, .. })
        ));
        assert!(check_startup(&bad, &settings()).is_err());
        assert!(check_startup(&[], &settings()).is_ok());
        let hourly = VerifierParams {
            epoch: Duration::from_secs(3600),
            ..settings()
        };
        assert!(matches!(
            check_startup(&[], &hourly),
            Err(GovernedError::EpochLength { version: 1, .. })
        ));
        let disagreeing = [set(2, 10, "epoch = \"1h\"")];
        assert!(check_startup(&disagreeing, &settings()).is_err());
    }
}
