//! What the verifier remembers about each hotspot between proofs of coverage, and how a verdict
//! updates it. Stored with every verdict (`hotspot_state`), so a restart continues exactly.

use super::params::Checks;
use super::poc::PocVerdict;
use schemas::PublicKey;
use std::collections::HashMap;

/// Timestamps (oracle receive times, ms) of a hotspot's last qualifying reports.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct HotspotState {
    /// Last beacon that advances the beacon schedule (`irregular_interval`).
    pub last_beacon_ms: Option<u64>,
    /// Last witness report that passed the regular checks (HIP 106 beacon reciprocity).
    pub last_witness_ms: Option<u64>,
    /// Last beacon that passed the regular checks with witnesses (HIP 106 witness reciprocity).
    pub last_reciprocal_beacon_ms: Option<u64>,
    /// Last beacon that makes the hotspot active for HIP 17 density.
    pub last_active_ms: Option<u64>,
}

/// The state of every hotspot.
pub type StateBook = HashMap<PublicKey, HotspotState>;

/// Applies a stored verdict; returns the hotspots whose state changed.
pub fn apply(book: &mut StateBook, verdict: &PocVerdict, checks: &Checks) -> Vec<PublicKey> {
    let mut changed = Vec::new();
    let regular_witnesses = verdict
        .witnesses
        .iter()
        .filter(|w| w.passed_regular)
        .count();
    if verdict.passed_regular {
        let state = book.entry(verdict.beaconer).or_default();
        if checks.zero_witness_beacons_advance_schedule || verdict.witness_reports > 0 {
            state.last_beacon_ms = Some(verdict.received_ms);
        }
        // Helium: any witness report; ours: a witness that passed the regular checks.
        let reciprocal = if checks.inactive_excluded_from_density {
            regular_witnesses > 0
        } else {
            verdict.witness_reports > 0
        };
        if reciprocal {
            state.last_reciprocal_beacon_ms = Some(verdict.received_ms);
        }
        // Helium (oracles#793) counts a hotspot as active even when the beacon then failed
        // reciprocity; ours only when the whole proof of coverage was valid.
        let active = if checks.inactive_excluded_from_density {
            verdict.outcome.is_ok() && verdict.valid_witnesses > 0
        } else {
            verdict.witness_reports > 0
        };
        if active {
            state.last_active_ms = Some(verdict.received_ms);
        }
        changed.push(verdict.beaconer);
    }
    for witness in verdict.witnesses.iter().filter(|w| w.passed_regular) {
        book.entry(witness.witness).or_default().last_witness_ms = Some(witness.received_ms);
        changed.push(witness.witness);
    }
    changed.sort();
    changed.dedup();
    changed
}
