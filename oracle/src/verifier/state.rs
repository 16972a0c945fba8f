//! What the verifier remembers about each hotspot between proofs of coverage, and how a verdict
//! updates it.
//!
//! Every field is the **latest** receive time of a qualifying report, so applying a verdict is
//! a maximum: the same verdicts give the same state in any order, and applying one twice
//! changes nothing. That is what lets the state be stored as a periodic checkpoint instead of
//! with every verdict (at Helium's peak ~40 M hotspot updates a day, each a random upsert): a
//! restart loads the checkpoint and folds in every verdict stored after it
//! (`Store::hotspot_states`), using the [`BeaconEffects`] stored with each proof of coverage.

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

impl HotspotState {
    /// The later of each field of `self` and `other`.
    pub fn merge(&mut self, other: &HotspotState) {
        later(&mut self.last_beacon_ms, other.last_beacon_ms);
        later(&mut self.last_witness_ms, other.last_witness_ms);
        later(
            &mut self.last_reciprocal_beacon_ms,
            other.last_reciprocal_beacon_ms,
        );
        later(&mut self.last_active_ms, other.last_active_ms);
    }
}

fn later(field: &mut Option<u64>, candidate: Option<u64>) {
    if candidate > *field {
        *field = candidate;
    }
}

/// The state of every hotspot.
pub type StateBook = HashMap<PublicKey, HotspotState>;

/// Which of its beaconer's timestamps a proof of coverage sets (to its beacon's receive time).
/// Stored with the verdict (`pocs.state_flags`, [`BeaconEffects::bits`]); witnesses that
/// passed the regular checks set their hotspot's `last_witness_ms`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BeaconEffects {
    /// Sets `last_beacon_ms`.
    pub schedule: bool,
    /// Sets `last_reciprocal_beacon_ms`.
    pub reciprocal: bool,
    /// Sets `last_active_ms`.
    pub active: bool,
}

impl BeaconEffects {
    /// Bit 0 schedule, bit 1 reciprocal, bit 2 active.
    pub fn bits(self) -> i64 {
        i64::from(self.schedule) | i64::from(self.reciprocal) << 1 | i64::from(self.active) << 2
    }

    /// The effects a verdict has under `checks`.
    pub fn of(verdict: &PocVerdict, checks: &Checks) -> Self {
        if !verdict.passed_regular {
            return Self::default();
        }
        let regular_witnesses = verdict.witnesses.iter().any(|w| w.passed_regular);
        Self {
            schedule: checks.zero_witness_beacons_advance_schedule || verdict.witness_reports > 0,
            // Helium: any witness report; ours: a witness that passed the regular checks.
            reciprocal: if checks.inactive_excluded_from_density {
                regular_witnesses
            } else {
                verdict.witness_reports > 0
            },
            // Helium (oracles#793) counts a hotspot as active even when the beacon then failed
            // reciprocity; ours only when the whole proof of coverage was valid.
            active: if checks.inactive_excluded_from_density {
                verdict.outcome.is_ok() && verdict.valid_witnesses > 0
            } else {
                verdict.witness_reports > 0
            },
        }
    }

    /// The beaconer's state change when its beacon was received at `received_ms`.
    pub fn state(self, received_ms: u64) -> HotspotState {
        let at = |set: bool| set.then_some(received_ms);
        HotspotState {
            last_beacon_ms: at(self.schedule),
            last_witness_ms: None,
            last_reciprocal_beacon_ms: at(self.reciprocal),
            last_active_ms: at(self.active),
        }
    }
}

/// Applies a verdict; returns the hotspots whose state changed.
pub fn apply(book: &mut StateBook, verdict: &PocVerdict, checks: &Checks) -> Vec<PublicKey> {
    let mut changed = Vec::new();
    if verdict.passed_regular {
        let effects = BeaconEffects::of(verdict, checks);
        book.entry(verdict.beaconer)
            .or_default()
            .merge(&effects.state(verdict.received_ms));
        changed.push(verdict.beaconer);
    }
    for witness in verdict.witnesses.iter().filter(|w| w.passed_regular) {
        later(
            &mut book.entry(witness.witness).or_default().last_witness_ms,
            Some(witness.received_ms),
        );
        changed.push(witness.witness);
    }
    changed.sort();
    changed.dedup();
    changed
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::verifier::poc::WitnessVerdict;

    fn key(n: u8) -> PublicKey {
        PublicKey::from_bytes([n; 32])
    }

    fn poc(beaconer: u8, received_ms: u64, witnesses: &[(u8, u64)]) -> PocVerdict {
        PocVerdict {
            beacon_id: [beaconer; 32],
            beaconer: key(beaconer),
            received_ms,
            epoch: 0,
            outcome: Ok(()),
            location: None,
            hex_scale_e4: 10_000,
            reward_units_e4: 0,
            witness_reports: witnesses.len() as u32,
            valid_witnesses: witnesses.len() as u32,
            selected_witnesses: 0,
            passed_regular: true,
            witnesses: witnesses
                .iter()
                .map(|&(w, ms)| WitnessVerdict {
                    witness_id: [w; 32],
                    witness: key(w),
                    received_ms: ms,
                    outcome: Ok(()),
                    passed_regular: true,
                    evidence: None,
                    selected: false,
                    reward_units_e4: 0,
                })
                .collect(),
        }
    }

    #[test]
    fn order_and_repetition_do_not_matter() {
        let checks = Checks::default();
        let verdicts = [
            poc(1, 1_000, &[(2, 1_200), (3, 1_100)]),
            poc(2, 900, &[(1, 1_300)]),
            poc(3, 2_000, &[(2, 1_150)]),
        ];
        let mut forward = StateBook::new();
        for v in &verdicts {
            apply(&mut forward, v, &checks);
        }
        let mut backward = StateBook::new();
        for v in verdicts.iter().rev().chain(verdicts.iter()) {
            apply(&mut backward, v, &checks);
        }
        assert_eq!(forward, backward);
        // Witness 2 was heard at 1,200 and, in a later proof of coverage, at 1,150: the latest wins.
        assert_eq!(forward[&key(2)].last_witness_ms, Some(1_200));
        assert_eq!(forward[&key(2)].last_beacon_ms, Some(900));
        assert_eq!(forward[&key(1)].last_active_ms, Some(1_000));
    }

    #[test]
    fn effects_round_trip_through_bits_and_a_beacon_without_regular_checks_sets_nothing() {
        let checks = Checks::default();
        let mut v = poc(1, 5_000, &[(2, 5_100)]);
        let effects = BeaconEffects::of(&v, &checks);
        assert!(effects.schedule && effects.reciprocal && effects.active);
        assert_eq!(effects.bits(), 0b111);
        assert_eq!(effects.state(5_000).last_reciprocal_beacon_ms, Some(5_000));
        v.passed_regular = false;
        assert_eq!(BeaconEffects::of(&v, &checks).bits(), 0);
    }
}
