//! Robust fitting for [`super::tdoa`]: the consensus (the largest group of witnesses whose
//! timestamps agree with one origin), several starts, and leave-one-out consistency.

use super::tdoa::{
    NoTdoaVerdict, TdoaParams, WitnessTiming, check_witness_timing, m_to_ns, ns_to_m,
};
use super::tdoa_solver::{self as solver, Fit, Observation};

/// Rounds of refitting a group and gathering the witnesses that agree with its fit.
const MAX_REGATHER_ROUNDS: usize = 10;

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

    /// The largest group of witnesses whose timestamps agree with an emission from `xy`: their
    /// implied emission times `rho_i - |p_i - xy|` (as pseudo-ranges) lie within one window of
    /// twice the plain residual threshold. Ties go to the earliest window. Ascending indices.
    fn agreeing_at(&self, xy: [f64; 2]) -> Vec<usize> {
        let width_m = 2.0 * ns_to_m(self.threshold_ns(1.0));
        let mut emissions: Vec<(f64, usize)> = self
            .obs
            .iter()
            .enumerate()
            .map(|(i, o)| (o.pseudo_range_m - solver::distance(o.position, xy), i))
            .collect();
        emissions.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
        let (mut best, mut end) = (0..0, 0);
        for start in 0..emissions.len() {
            end = end.max(start);
            while end < emissions.len() && emissions[end].0 - emissions[start].0 <= width_m {
                end += 1;
            }
            if end - start > best.len() {
                best = start..end;
            }
        }
        let mut group: Vec<usize> = emissions[best].iter().map(|e| e.1).collect();
        group.sort_unstable();
        group
    }

    /// See [`TdoaFix::assertion_support`].
    pub(super) fn assertion_support(&self) -> usize {
        self.agreeing_at([0.0, 0.0]).len()
    }

    /// Every witness whose residual under `fit` is within its prediction threshold.
    fn inliers(&self, fit: &Fit) -> Vec<usize> {
        (0..self.obs.len())
            .filter(|&i| {
                let o = &self.obs[i];
                let factor = 1.0 + fit.prediction_leverage(o);
                factor.is_finite() && m_to_ns(fit.residual_m(o).abs()) <= self.threshold_ns(factor)
            })
            .collect()
    }

    /// The consistent group grown from the origin hypothesis `start`: the witnesses agreeing with
    /// an emission from there, refitted and re-gathered until the group is stable, then pruned
    /// (the worst deleted residual first) until every member agrees with the fit of the others.
    fn grow(&self, start: [f64; 2]) -> Option<(Vec<usize>, Fit)> {
        let mut used = self.agreeing_at(start);
        let mut xy = start;
        for _ in 0..MAX_REGATHER_ROUNDS {
            let fit = solver::solve(&self.subset(&used), xy, self.params.max_iterations)?;
            xy = fit.xy;
            let next = self.inliers(&fit);
            if next == used || next.len() < 3 {
                break;
            }
            used = next;
        }
        loop {
            let fit = solver::solve(&self.subset(&used), xy, self.params.max_iterations)?;
            let worst = used
                .iter()
                .enumerate()
                .filter_map(|(k, &i)| {
                    let t = self.timing(&fit, &self.obs[i], true)?;
                    let excess = t.residual_ns.abs() / t.threshold_ns;
                    (excess > 1.0).then_some((k, excess))
                })
                .max_by(|a, b| a.1.total_cmp(&b.1));
            match worst {
                None => return Some((used, fit)),
                Some(_) if used.len() <= 3 => return None,
                Some((k, _)) => {
                    used.remove(k);
                    xy = fit.xy;
                }
            }
        }
    }

    /// The consensus: the largest group of witnesses whose timestamps agree with one origin
    /// (every member within its threshold of the fit of the others), grown from the assertion,
    /// the witnesses' centroid, the mirror of the assertion, and where the full set's fits from
    /// those starts lie. Ties go to the group whose origin is nearest the assertion (the benefit
    /// of the doubt). A group smaller than four that leaves witnesses out names nobody: any three
    /// witnesses fit exactly.
    pub(super) fn consensus_fit(&self) -> Result<(Vec<usize>, Fit), NoTdoaVerdict> {
        let all: Vec<usize> = (0..self.obs.len()).collect();
        let points: Vec<[f64; 3]> = self.obs.iter().map(|o| o.position).collect();
        let (centre, axis, _) = solver::principal_axes(&points);
        let mut starts = vec![
            [0.0, 0.0],
            centre,
            solver::reflect([0.0, 0.0], centre, axis),
        ];
        let full: Vec<[f64; 2]> = starts
            .iter()
            .filter_map(|&s| solver::solve(&self.subset(&all), s, self.params.max_iterations))
            .map(|f| f.xy)
            .collect();
        starts.extend(full);
        let distance = |f: &Fit| f.xy[0].hypot(f.xy[1]);
        let best = starts.iter().filter_map(|&s| self.grow(s)).min_by(|a, b| {
            b.0.len()
                .cmp(&a.0.len())
                .then(distance(&a.1).total_cmp(&distance(&b.1)))
        });
        match best {
            Some((used, fit)) if used.len() >= 4 || used.len() == self.obs.len() => Ok((used, fit)),
            _ => {
                let fit = solver::solve(&self.subset(&all), [0.0, 0.0], self.params.max_iterations)
                    .ok_or(NoTdoaVerdict::NoConvergence)?;
                Err(NoTdoaVerdict::InconsistentTimestamps {
                    rms_residual_ns: m_to_ns((fit.cost / all.len() as f64).sqrt()),
                })
            }
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
