//! Time of flight: multilaterate a beacon's origin from the witnesses' GPS radio timestamps
//! (time difference of arrival), compare it with the asserted location, and find witnesses
//! whose timestamps disagree with their asserted positions.
//!
//! Unknowns: the origin `(x, y)` on the plane tangent at the asserted location and the
//! emission time. The fix rests on the *consensus*: the largest group of witnesses whose
//! timestamps agree with one origin (each within tolerance of the fit of the others, i.e.
//! leave-one-out), grown by deterministic Levenberg-Marquardt fits from the asserted location,
//! the witnesses' centroid, the mirror of the asserted location across the witnesses' main axis
//! and the full set's fits; ties go to the origin nearest the assertion (the benefit of the
//! doubt). Every witness outside the consensus is judged against its fit. An origin mismatch
//! must survive leaving out any one member of the consensus, and the consensus must outnumber by
//! at least two the witnesses that agree with the assertion, so liars frame an honest beaconer
//! only by outnumbering its honest witnesses. Method and limits: `docs/physics.md`.

use serde::{Deserialize, Serialize};

use super::radio::SPEED_OF_LIGHT_M_PER_S;
use super::tdoa_robust::Solver;
use super::tdoa_solver::{LocalFrame, Observation};
use super::violation::PhysicsViolation;

/// Thresholds of the time-of-flight checks. `Default` holds our values.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TdoaParams {
    /// Standard deviation of a GPS fine receive timestamp, ns. Default 50 (SX1302 fine
    /// timestamps: 20-50 ns).
    pub timestamp_sigma_ns: f64,
    /// Standard deviations a timestamp residual may reach. Default 4.
    pub residual_sigmas: f64,
    /// Added to every residual threshold for multipath, non-line-of-sight excess delay and
    /// position-assertion error, ns. Default 1000 (about 300 m).
    pub residual_margin_ns: f64,
    /// Distance between estimated origin and assertion always allowed (multipath bias,
    /// assertion error), m. Default 500.
    pub origin_margin_m: f64,
    /// Standard deviations of the position estimate (HDOP x range sigma) added to it.
    /// Default 3.
    pub origin_sigmas: f64,
    /// Largest horizontal dilution of precision that still gives a verdict (the origin
    /// threshold already grows with it; this only keeps the linearisation meaningful).
    /// Default 15.
    pub max_hdop: f64,
    /// Smallest RMS spread of the witnesses across their main axis; below it they are
    /// (nearly) collinear and give no verdict, m. Default 100.
    pub min_witness_spread_m: f64,
    /// Iteration limit of one solve. Default 100.
    pub max_iterations: u32,
}

impl Default for TdoaParams {
    fn default() -> Self {
        Self {
            timestamp_sigma_ns: 50.0,
            residual_sigmas: 4.0,
            residual_margin_ns: 1_000.0,
            origin_margin_m: 500.0,
            origin_sigmas: 3.0,
            max_hdop: 15.0,
            min_witness_spread_m: 100.0,
            max_iterations: 100,
        }
    }
}

/// How many witnesses more than agree with the assertion a consensus elsewhere needs before
/// the origin fails: two, so that the mismatch survives leaving any one of them out.
pub const MIN_CONSENSUS_LEAD: usize = 2;

/// A point on the Earth, degrees.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GeoPoint {
    /// Latitude, degrees.
    pub lat: f64,
    /// Longitude, degrees.
    pub lng: f64,
}

/// A witness with its asserted position and the GPS time it received the beacon.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TimedWitness {
    /// Asserted position.
    pub position: GeoPoint,
    /// GPS fine receive timestamp, ns since the Unix epoch (must not be 0, "unknown").
    pub radio_timestamp_ns: u64,
}

/// One witness's timing, judged against the fit of the other witnesses (leave-one-out).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct WitnessTiming {
    /// Reported minus predicted arrival, ns, the prediction coming from the other witnesses
    /// (negative: earlier than its position allows).
    pub residual_ns: f64,
    /// Largest allowed `|residual_ns|`: `sigmas x sigma x sqrt(prediction variance factor) +
    /// margin`, ns; infinite (no verdict) when the others cannot predict it, or when the
    /// consensus puts the origin beyond the origin threshold without an origin verdict (then it
    /// is unclear who is wrong).
    pub threshold_ns: f64,
    /// Whether the witness is in the consensus the fix rests on (otherwise it was judged
    /// against the consensus's fit).
    pub in_solution: bool,
}

/// Where the timestamps put the beacon.
#[derive(Debug, Clone, PartialEq)]
pub struct TdoaFix {
    /// Estimated origin.
    pub estimated: GeoPoint,
    /// Distance from the estimate to the asserted location, m.
    pub error_m: f64,
    /// Largest allowed `error_m`: margin + sigmas x HDOP x range sigma, m.
    pub origin_threshold_m: f64,
    /// Smallest `error - threshold` over the fits that leave out one member of the consensus in
    /// turn, m; `None` when one witness alone could have moved the origin (a consensus of fewer
    /// than four, or a fit without one of them fails or lacks geometry). [`check_beacon_origin`]
    /// fails only when this and the full fit's excess are both positive, so a single lying
    /// witness cannot frame an honest beaconer.
    pub single_liar_excess_m: Option<f64>,
    /// Witnesses in the consensus (the largest group whose timestamps agree with one origin).
    pub consensus_witnesses: usize,
    /// Witnesses whose timestamps agree with an emission from the asserted location itself: the
    /// largest group whose implied emission times lie within one window of twice the plain
    /// residual threshold. [`check_beacon_origin`] fails only when the consensus outnumbers it
    /// by at least [`MIN_CONSENSUS_LEAD`], so that one more liar cannot tip the balance.
    pub assertion_support: usize,
    /// Estimated emission time, ns since the Unix epoch.
    pub emission_ns: u64,
    /// Horizontal dilution of precision of the witnesses used.
    pub hdop: f64,
    /// RMS residual of the witnesses used, ns.
    pub rms_residual_ns: f64,
    /// Per input witness, in input order.
    pub witnesses: Vec<WitnessTiming>,
}

/// Why the timestamps give no verdict.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum NoTdoaVerdict {
    /// Fewer than three witnesses.
    #[error("{have} timed witnesses; at least 3 are needed")]
    NotEnoughWitnesses {
        /// Witnesses given.
        have: usize,
    },
    /// A witness has no timestamp or a position that is not a finite latitude/longitude.
    #[error("witness {index} has no radio timestamp or an invalid position")]
    InvalidWitness {
        /// Index in the input.
        index: usize,
    },
    /// The asserted location is not a finite latitude/longitude.
    #[error("the asserted location is invalid")]
    InvalidAssertion,
    /// The witnesses are (nearly) collinear, or the fix is too poorly conditioned.
    #[error("not enough geometry: spread {spread_m:.0} m across the main axis, HDOP {hdop:.1}")]
    NotEnoughGeometry {
        /// RMS spread of the witnesses across their main axis, m.
        spread_m: f64,
        /// HDOP of the fix (infinite when not solved).
        hdop: f64,
    },
    /// No group of at least four witnesses is consistent, so no witness can be blamed.
    #[error(
        "timestamps are inconsistent (RMS residual {rms_residual_ns:.0} ns) and no single witness explains it"
    )]
    InconsistentTimestamps {
        /// RMS residual of the last fit tried, ns.
        rms_residual_ns: f64,
    },
    /// The solver did not produce a finite solution.
    #[error("the multilateration did not converge")]
    NoConvergence,
}

fn valid_point(p: GeoPoint) -> bool {
    p.lat.is_finite() && p.lng.is_finite() && p.lat.abs() <= 90.0 && p.lng.abs() <= 180.0
}

pub(super) fn ns_to_m(ns: f64) -> f64 {
    ns * 1e-9 * SPEED_OF_LIGHT_M_PER_S
}

pub(super) fn m_to_ns(m: f64) -> f64 {
    m / SPEED_OF_LIGHT_M_PER_S * 1e9
}

/// Witnesses in the frame of the assertion, times relative to the earliest (in integers
/// first: absolute nanoseconds do not fit an `f64` exactly), and that earliest time.
fn observations(
    frame: &LocalFrame,
    witnesses: &[TimedWitness],
) -> Result<(Vec<Observation>, u64), NoTdoaVerdict> {
    if let Some(index) = witnesses
        .iter()
        .position(|w| w.radio_timestamp_ns == 0 || !valid_point(w.position))
    {
        return Err(NoTdoaVerdict::InvalidWitness { index });
    }
    let t_ref = witnesses
        .iter()
        .map(|w| w.radio_timestamp_ns)
        .min()
        .unwrap_or(0);
    let obs = witnesses
        .iter()
        .map(|w| Observation {
            position: frame.enu(w.position.lat, w.position.lng),
            pseudo_range_m: ns_to_m((w.radio_timestamp_ns - t_ref) as f64),
        })
        .collect();
    Ok((obs, t_ref))
}

/// Multilaterates the beacon's origin from `witnesses` (at least three, each with a GPS
/// timestamp) and judges every witness's timing; `asserted` is where the beaconer claims to be.
pub fn locate_beacon(
    asserted: GeoPoint,
    witnesses: &[TimedWitness],
    params: &TdoaParams,
) -> Result<TdoaFix, NoTdoaVerdict> {
    if !valid_point(asserted) {
        return Err(NoTdoaVerdict::InvalidAssertion);
    }
    if witnesses.len() < 3 {
        return Err(NoTdoaVerdict::NotEnoughWitnesses {
            have: witnesses.len(),
        });
    }
    let frame = LocalFrame::new(asserted.lat, asserted.lng);
    let (obs, t_ref) = observations(&frame, witnesses)?;
    let solver = Solver { obs: &obs, params };
    solver.check_spread(&(0..obs.len()).collect::<Vec<_>>())?;
    let (used, fit) = solver.consensus_fit()?;
    solver.check_spread(&used)?;
    let hdop = fit.hdop();
    if hdop.is_nan() || hdop > params.max_hdop {
        return Err(NoTdoaVerdict::NotEnoughGeometry {
            spread_m: solver.spread_m(&used),
            hdop,
        });
    }
    let (lat, lng) = frame.lat_lng(fit.xy[0], fit.xy[1]);
    let emission = i128::from(t_ref) + m_to_ns(fit.bias_m).round() as i128;
    let mut fix = TdoaFix {
        estimated: GeoPoint { lat, lng },
        error_m: fit.xy[0].hypot(fit.xy[1]),
        origin_threshold_m: solver.origin_threshold_m(hdop),
        single_liar_excess_m: solver.single_liar_excess_m(&used),
        consensus_witnesses: used.len(),
        assertion_support: solver.assertion_support(),
        emission_ns: u64::try_from(emission).unwrap_or(0),
        hdop,
        rms_residual_ns: m_to_ns((fit.cost / used.len() as f64).sqrt()),
        witnesses: solver.timings(&fit, &used),
    };
    let undecided_origin =
        fix.error_m > fix.origin_threshold_m && check_beacon_origin(&fix).is_ok();
    if undecided_origin {
        // The consensus is elsewhere but not decisively: it is unclear who is wrong, so
        // nobody's timestamp is judged.
        for timing in &mut fix.witnesses {
            timing.threshold_ns = f64::INFINITY;
        }
    }
    Ok(fix)
}

/// `beacon_origin_mismatch`: the estimated origin may be at most `origin_threshold_m` from the
/// asserted location (the threshold passes). No verdict (`Ok`) unless the mismatch survives
/// leaving out any one member of the consensus ([`TdoaFix::single_liar_excess_m`] positive)
/// and the consensus outnumbers the witnesses that agree with the assertion by at least
/// [`MIN_CONSENSUS_LEAD`].
pub fn check_beacon_origin(fix: &TdoaFix) -> Result<(), PhysicsViolation> {
    let robust = fix.single_liar_excess_m.is_some_and(|excess| excess > 0.0)
        && fix.consensus_witnesses >= fix.assertion_support + MIN_CONSENSUS_LEAD;
    if robust && fix.error_m > fix.origin_threshold_m {
        return Err(PhysicsViolation::BeaconOriginMismatch {
            estimated_lat: fix.estimated.lat,
            estimated_lng: fix.estimated.lng,
            error_m: fix.error_m,
            threshold_m: fix.origin_threshold_m,
            consensus_witnesses: u32::try_from(fix.consensus_witnesses).unwrap_or(u32::MAX),
            assertion_support: u32::try_from(fix.assertion_support).unwrap_or(u32::MAX),
        });
    }
    Ok(())
}

/// `witness_timing_inconsistent`: `|residual|` at most its threshold (the threshold passes).
pub fn check_witness_timing(timing: &WitnessTiming) -> Result<(), PhysicsViolation> {
    if timing.residual_ns.abs() > timing.threshold_ns {
        return Err(PhysicsViolation::WitnessTimingInconsistent {
            residual_ns: timing.residual_ns,
            threshold_ns: timing.threshold_ns,
        });
    }
    Ok(())
}

/// The failing witnesses of `fix`, by input index.
pub fn witness_timing_violations(fix: &TdoaFix) -> Vec<(usize, PhysicsViolation)> {
    fix.witnesses
        .iter()
        .enumerate()
        .filter_map(|(i, t)| check_witness_timing(t).err().map(|v| (i, v)))
        .collect()
}

#[cfg(test)]
#[path = "tdoa_tests.rs"]
mod tests;
