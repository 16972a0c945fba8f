//! HIP 15 reward units for a proof-of-coverage event, as integers in units of 1e-4.
//!
//! With `w` valid selected witnesses, redundancy `N` and decay rate `r` (Helium: `N = 4`,
//! `r = 0.8`, unit cap 2):
//!
//! - beaconer: `0` if `w = 0`; `w / N` if `w <= N`; otherwise `min(cap, 2 - r^(w-N))`;
//! - each witness: `0` if `w = 0`; `1` if `w <= N`; otherwise `min(cap, (N - (1 - r^(w-N))) / w)`.
//!
//! # Arithmetic
//!
//! Everything is integer arithmetic. `r^k` is computed in fixed point with 30 decimal places
//! (`u128`, truncating after each multiplication), which is exact whenever `r^k` has at most 30
//! decimals (for `r = 0.8`: every `k <= 30`). The result is then rounded to 4 decimals with
//! round-half-to-even, which is what `rust_decimal::Decimal::round_dp` (used by Helium's
//! `runner.rs`) does. Helium's values and ours only differ if an exact tie and 28-digit decimal
//! truncation meet, which does not happen for its parameters.

/// Fixed-point scale used for intermediate values: 1e30.
const FIXED_SCALE: u128 = 1_000_000_000_000_000_000_000_000_000_000;
/// Output scale: results are in units of 1e-4.
const E4: u128 = 10_000;
/// Divisor that turns a `FIXED_SCALE` value into units of 1e-4.
const FIXED_PER_E4: u128 = FIXED_SCALE / E4;

/// Parameters of the HIP 15 reward-unit curves.
#[derive(serde::Serialize, serde::Deserialize, Clone, Debug, PartialEq)]
pub struct RewardUnitParams {
    /// Witness count `N` up to which every witness earns one unit (Helium: 4).
    pub witness_redundancy: u32,
    /// Decay rate `r` in units of 1e-4 (Helium: 0.8 = 8000). Values above 1.0 are treated as 1.0.
    pub decay_rate_e4: u32,
    /// Upper bound on any unit value, in units of 1e-4 (Helium: 2.0 = 20000).
    pub unit_cap_e4: u32,
}

impl Default for RewardUnitParams {
    /// Helium's values: `WITNESS_REDUNDANCY = 4`, `POC_REWARD_DECAY_RATE = 0.8`,
    /// `HIP15_TX_REWARD_UNIT_CAP = 2`.
    fn default() -> Self {
        Self {
            witness_redundancy: 4,
            decay_rate_e4: 8_000,
            unit_cap_e4: 20_000,
        }
    }
}

impl RewardUnitParams {
    /// Beaconer reward units (1e-4) for `selected_witnesses` valid selected witnesses.
    pub fn beaconer_units_e4(&self, selected_witnesses: u32) -> u32 {
        let w = selected_witnesses;
        let n = self.witness_redundancy;
        if w == 0 {
            return 0;
        }
        if w <= n {
            return self.capped(div_round_half_even(u128::from(w) * E4, u128::from(n)));
        }
        let unrounded = (2 * FIXED_SCALE).saturating_sub(self.decay_pow(w - n));
        self.capped(div_round_half_even(unrounded, FIXED_PER_E4))
    }

    /// Reward units (1e-4) earned by each of `selected_witnesses` valid selected witnesses.
    pub fn witness_units_e4(&self, selected_witnesses: u32) -> u32 {
        let w = selected_witnesses;
        let n = self.witness_redundancy;
        if w == 0 {
            return 0;
        }
        if w <= n {
            return self.capped(E4);
        }
        // (N - (1 - r^k)) / w, with the numerator at FIXED_SCALE.
        let numerator = u128::from(n)
            .saturating_mul(FIXED_SCALE)
            .saturating_add(self.decay_pow(w - n))
            .saturating_sub(FIXED_SCALE);
        let divisor = u128::from(w) * FIXED_PER_E4;
        self.capped(div_round_half_even(numerator, divisor))
    }

    /// `r^k` at `FIXED_SCALE`, truncating after each step.
    fn decay_pow(&self, k: u32) -> u128 {
        let rate = u128::from(self.decay_rate_e4).min(E4);
        let mut value = FIXED_SCALE;
        for _ in 0..k {
            let next = value * rate / E4;
            if next == value {
                break; // rate 1.0 or value 0: fixed point reached
            }
            value = next;
        }
        value
    }

    /// Applies the unit cap and narrows to `u32`.
    fn capped(&self, units_e4: u128) -> u32 {
        let capped = units_e4.min(u128::from(self.unit_cap_e4));
        u32::try_from(capped).unwrap_or(u32::MAX)
    }
}

/// Beaconer reward units (1e-4) with Helium's default parameters.
pub fn beaconer_units_e4(selected_witnesses: u32) -> u32 {
    RewardUnitParams::default().beaconer_units_e4(selected_witnesses)
}

/// Per-witness reward units (1e-4) with Helium's default parameters.
pub fn witness_units_e4(selected_witnesses: u32) -> u32 {
    RewardUnitParams::default().witness_units_e4(selected_witnesses)
}

/// `numerator / denominator` rounded to the nearest integer, ties to even (banker's rounding,
/// like `rust_decimal`'s `round_dp`). A zero denominator yields 0.
pub(crate) fn div_round_half_even(numerator: u128, denominator: u128) -> u128 {
    if denominator == 0 {
        return 0;
    }
    let quotient = numerator / denominator;
    let remainder = numerator % denominator;
    let twice = remainder.saturating_mul(2);
    let round_up = twice > denominator || (twice == denominator && quotient % 2 == 1);
    quotient + u128::from(round_up)
}

#[cfg(test)]
mod tests {
    use super::*;

    const BEACONER_E4: [u32; 15] = [
        0, 2_500, 5_000, 7_500, 10_000, 12_000, 13_600, 14_880, 15_904, 16_723, 17_379, 17_903,
        18_322, 18_658, 18_926,
    ];
    const WITNESS_E4: [u32; 15] = [
        0, 10_000, 10_000, 10_000, 10_000, 7_600, 6_067, 5_017, 4_262, 3_697, 3_262, 2_918, 2_640,
        2_411, 2_220,
    ];

    #[test]
    fn beaconer_units_match_reference_table() {
        for (w, expected) in (0u32..).zip(BEACONER_E4) {
            assert_eq!(beaconer_units_e4(w), expected, "w = {w}");
        }
    }

    #[test]
    fn witness_units_match_reference_table() {
        for (w, expected) in (0u32..).zip(WITNESS_E4) {
            assert_eq!(witness_units_e4(w), expected, "w = {w}");
        }
    }

    #[test]
    fn total_witness_units_peak_at_redundancy() {
        let total = |w: u32| w * witness_units_e4(w);
        assert_eq!(total(4), 40_000);
        assert!(total(5) < total(4) && total(3) < total(4));
        assert_eq!(total(14), 31_080);
    }

    #[test]
    fn beaconer_units_approach_but_never_exceed_cap() {
        assert_eq!(beaconer_units_e4(48), 19_999); // 2 - 0.8^44 = 1.99994...
        assert_eq!(beaconer_units_e4(49), 20_000); // 2 - 0.8^45 = 1.99995... rounds to 2
        assert_eq!(beaconer_units_e4(u32::MAX), 20_000);
        let low_cap = RewardUnitParams {
            unit_cap_e4: 15_000,
            ..RewardUnitParams::default()
        };
        assert_eq!(low_cap.beaconer_units_e4(7), 14_880); // just under the cap
        assert_eq!(low_cap.beaconer_units_e4(8), 15_000); // 1.5904 capped
    }

    #[test]
    fn witness_units_stay_non_negative_for_many_witnesses() {
        assert_eq!(witness_units_e4(1_000), 30); // 3.0000.../1000 = 0.0030
        assert_eq!(witness_units_e4(u32::MAX), 0);
    }

    #[test]
    fn decay_rate_one_gives_flat_curves() {
        let flat = RewardUnitParams {
            decay_rate_e4: 10_000,
            ..RewardUnitParams::default()
        };
        assert_eq!(flat.beaconer_units_e4(10), 10_000);
        assert_eq!(flat.witness_units_e4(8), 5_000);
    }

    #[test]
    fn rounding_is_half_to_even() {
        assert_eq!(div_round_half_even(25, 10), 2);
        assert_eq!(div_round_half_even(35, 10), 4);
        assert_eq!(div_round_half_even(26, 10), 3);
        assert_eq!(div_round_half_even(24, 10), 2);
        assert_eq!(div_round_half_even(1, 0), 0);
    }
}
