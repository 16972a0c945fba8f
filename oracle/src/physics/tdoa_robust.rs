//! Robust fitting for [`super::tdoa`]: several starts, leave-one-out consistency, and leaving
//! out the witness that explains an inconsistency.

use super::tdoa::{
    NoTdoaVerdict, TdoaParams, WitnessTiming, check_witness_timing, m_to_ns, ns_to_m,
};
use super::tdoa_solver::{self as solver, Fit, Observation};

/// The observations and thresholds of one multilateration.
pub(super) struct Solver<'a> {
    pub(super) obs: &'a [Observation],
    pub(super) params: &'a TdoaParams,
}

impl Solver<'_> {
    fn subset(&self, used: &[usize]) -> Vec<Observation> {
        used.iter().map(|&i| self.obs[i]).collect()
    }

    pub(super) fn spread_m(&self, used: &[usize]) -> f64 {
        let points: Vec<[f64; 3]> = used.iter().map(|&i| self.obs[i].position).collect();
        solver::principal_axes(&points).2
    }

    pub(super) fn check_spread(&self, used: &[usize]) -> Result<(), NoTdoaVerdict> {
        let spread_m = self.spread_m(used);
        if spread_m.is_nan() || spread_m < self.params.min_witness_spread_m {
            return Err(NoTdoaVerdict::NotEnoughGeometry {
                spread_m,
                hdop: f64::INFINITY,
            });
        }
        Ok(())
    }

    /// Largest distance of the origin from the assertion for a fit with `hdop`, m.
    pub(super) fn origin_threshold_m(&self, hdop: f64) -> f64 {
        let p = self.params;
        p.origin_margin_m + p.origin_sigmas * hdop * ns_to_m(p.timestamp_sigma_ns)
    }

    /// See [`TdoaFix::single_liar_excess_m`].
    pub(super) fn single_liar_excess_m(&self, used: &[usize]) -> Option<f64> {
        if used.len() < 4 {
            return None;
        }
        (0..used.len())
            .map(|k| {
                let mut rest = used.to_vec();
                rest.remove(k);
                let fit = self.best_fit(&rest)?;
                let hdop = fit.hdop();
                (hdop <= self.params.max_hdop)
                    .then(|| fit.xy[0].hypot(fit.xy[1]) - self.origin_threshold_m(hdop))
            })
            .try_fold(f64::INFINITY, |min, excess| excess.map(|e| min.min(e)))
    }

    /// Largest `|residual|` of a prediction with variance `factor` x the timestamp variance, ns.
    fn threshold_ns(&self, factor: f64) -> f64 {
        let p = self.params;
        p.residual_sigmas * p.timestamp_sigma_ns * factor.sqrt() + p.residual_margin_ns
    }

    /// A witness's residual against the fit of the others and its threshold, ns: the deleted
    /// residual for a witness inside `fit`, the prediction residual for one left out. `None`
    /// when the others cannot predict it.
    fn timing(&self, fit: &Fit, obs: &Observation, in_solution: bool) -> Option<WitnessTiming> {
        let (residual_m, factor) = if in_solution {
            fit.deleted_residual_m(obs)?
        } else {
            (fit.residual_m(obs), 1.0 + fit.prediction_leverage(obs))
        };
        Some(WitnessTiming {
            residual_ns: m_to_ns(residual_m),
            threshold_ns: self.threshold_ns(factor),
            in_solution,
        })
    }

    /// Every witness of `subset` agrees with the fit of the others.
    fn consistent(&self, fit: &Fit, subset: &[Observation]) -> bool {
        subset.iter().all(|o| {
            self.timing(fit, o, true)
                .is_none_or(|t| check_witness_timing(&t).is_ok())
        })
    }

    /// The fit of `used` from several starts: the consistent one nearest the assertion, or
    /// the cheapest when none is consistent.
    fn best_fit(&self, used: &[usize]) -> Option<Fit> {
        let subset = self.subset(used);
        let points: Vec<[f64; 3]> = subset.iter().map(|o| o.position).collect();
        let (centre, axis, _) = solver::principal_axes(&points);
        let starts = [
            [0.0, 0.0],
            centre,
            solver::reflect([0.0, 0.0], centre, axis),
        ];
        let fits: Vec<Fit> = starts
            .iter()
            .filter_map(|&s| solver::solve(&subset, s, self.params.max_iterations))
            .collect();
        let distance = |f: &Fit| f.xy[0].hypot(f.xy[1]);
        let nearest_consistent = fits
            .iter()
            .filter(|f| self.consistent(f, &subset))
            .min_by(|a, b| distance(a).total_cmp(&distance(b)));
        nearest_consistent
            .or_else(|| fits.iter().min_by(|a, b| a.cost.total_cmp(&b.cost)))
            .cloned()
    }

    /// Leaves out, one at a time, the witness whose removal fits the rest best, until the rest
    /// is consistent; at least four must remain to tell who is wrong.
    pub(super) fn robust_fit(&self) -> Result<(Vec<usize>, Fit), NoTdoaVerdict> {
        let mut used: Vec<usize> = (0..self.obs.len()).collect();
        loop {
            let fit = self.best_fit(&used).ok_or(NoTdoaVerdict::NoConvergence)?;
            if self.consistent(&fit, &self.subset(&used)) {
                return Ok((used, fit));
            }
            if used.len() <= 4 {
                return Err(NoTdoaVerdict::InconsistentTimestamps {
                    rms_residual_ns: m_to_ns((fit.cost / used.len() as f64).sqrt()),
                });
            }
            let drop = (0..used.len())
                .filter_map(|k| {
                    let mut rest = used.clone();
                    rest.remove(k);
                    self.best_fit(&rest).map(|f| (k, f.cost))
                })
                .min_by(|a, b| a.1.total_cmp(&b.1))
                .map(|(k, _)| k)
                .ok_or(NoTdoaVerdict::NoConvergence)?;
            used.remove(drop);
        }
    }

    /// Every witness's timing against the others; a witness the others cannot predict gets
    /// its plain residual and an infinite threshold (no verdict).
    pub(super) fn timings(&self, fit: &Fit, used: &[usize]) -> Vec<WitnessTiming> {
        self.obs
            .iter()
            .enumerate()
            .map(|(i, o)| {
                let in_solution = used.contains(&i);
                self.timing(fit, o, in_solution).unwrap_or(WitnessTiming {
                    residual_ns: m_to_ns(fit.residual_m(o)),
                    threshold_ns: f64::INFINITY,
                    in_solution,
                })
            })
            .collect()
    }
}
