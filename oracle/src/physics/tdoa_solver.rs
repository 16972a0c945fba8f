//! Numerical core of the TDoA multilateration: a local east-north-up frame on a spherical
//! Earth and a Levenberg-Marquardt solver for the origin `(x, y)` on the tangent plane and the
//! emission time (as a pseudo-range `b = c t0`). Deterministic: no randomness anywhere.

/// Mean Earth radius (IUGG), metres.
pub(super) const EARTH_RADIUS_M: f64 = 6_371_008.8;

/// Leverage above which a witness inside a fit is considered unpredictable from the others.
const MAX_LEVERAGE: f64 = 0.99;

/// East-north-up frame tangent to the sphere at an origin.
#[derive(Debug, Clone, Copy)]
pub(super) struct LocalFrame {
    origin: [f64; 3],
    east: [f64; 3],
    north: [f64; 3],
    up: [f64; 3],
}

fn ecef(lat_deg: f64, lng_deg: f64) -> [f64; 3] {
    let (lat, lng) = (lat_deg.to_radians(), lng_deg.to_radians());
    [
        EARTH_RADIUS_M * lat.cos() * lng.cos(),
        EARTH_RADIUS_M * lat.cos() * lng.sin(),
        EARTH_RADIUS_M * lat.sin(),
    ]
}

fn dot(a: [f64; 3], b: [f64; 3]) -> f64 {
    a[0] * b[0] + a[1] * b[1] + a[2] * b[2]
}

impl LocalFrame {
    /// The frame tangent at `lat_deg`, `lng_deg`.
    pub(super) fn new(lat_deg: f64, lng_deg: f64) -> Self {
        let (lat, lng) = (lat_deg.to_radians(), lng_deg.to_radians());
        Self {
            origin: ecef(lat_deg, lng_deg),
            east: [-lng.sin(), lng.cos(), 0.0],
            north: [-lat.sin() * lng.cos(), -lat.sin() * lng.sin(), lat.cos()],
            up: [lat.cos() * lng.cos(), lat.cos() * lng.sin(), lat.sin()],
        }
    }

    /// East, north, up of a point on the sphere, metres (up is negative away from the origin:
    /// the Earth curves away, so distances in this frame are true straight-line distances).
    pub(super) fn enu(&self, lat_deg: f64, lng_deg: f64) -> [f64; 3] {
        let p = ecef(lat_deg, lng_deg);
        let d = [
            p[0] - self.origin[0],
            p[1] - self.origin[1],
            p[2] - self.origin[2],
        ];
        [dot(d, self.east), dot(d, self.north), dot(d, self.up)]
    }

    /// Latitude and longitude, degrees, of the sphere point under tangent-plane `(east, north)`.
    pub(super) fn lat_lng(&self, east: f64, north: f64) -> (f64, f64) {
        let p: [f64; 3] =
            std::array::from_fn(|k| self.origin[k] + east * self.east[k] + north * self.north[k]);
        let lat = p[2].atan2(p[0].hypot(p[1]));
        let lng = p[1].atan2(p[0]);
        (lat.to_degrees(), lng.to_degrees())
    }
}

/// One witness: its position in the frame and its pseudo-range `c (t_i - t_ref)`, metres.
#[derive(Debug, Clone, Copy)]
pub(super) struct Observation {
    pub(super) position: [f64; 3],
    pub(super) pseudo_range_m: f64,
}

/// A converged fit over a subset of observations.
#[derive(Debug, Clone)]
pub(super) struct Fit {
    /// Origin on the tangent plane, metres east and north.
    pub(super) xy: [f64; 2],
    /// Emission time as a pseudo-range, metres.
    pub(super) bias_m: f64,
    /// Sum of squared residuals, m^2.
    pub(super) cost: f64,
    /// `(J^T J)^-1` at the solution (covariance for unit range variance); `None` if singular.
    pub(super) covariance: Option<[[f64; 3]; 3]>,
}

impl Fit {
    /// Reported minus predicted pseudo-range of `obs` under this fit, metres.
    pub(super) fn residual_m(&self, obs: &Observation) -> f64 {
        obs.pseudo_range_m - self.bias_m - distance(obs.position, self.xy)
    }

    /// Horizontal dilution of precision; infinite for a singular geometry.
    pub(super) fn hdop(&self) -> f64 {
        self.covariance
            .map_or(f64::INFINITY, |q| (q[0][0] + q[1][1]).max(0.0).sqrt())
    }

    /// Residual of `obs`, which this fit used, against the fit of the others (the deleted
    /// residual `r / (1 - h)`) and its variance in units of the range variance (`1 / (1 - h)`),
    /// metres; `None` when the others cannot predict it (leverage `h` near 1, e.g. three
    /// witnesses for three unknowns).
    pub(super) fn deleted_residual_m(&self, obs: &Observation) -> Option<(f64, f64)> {
        let h = self.prediction_leverage(obs);
        (h < MAX_LEVERAGE).then(|| (self.residual_m(obs) / (1.0 - h), 1.0 / (1.0 - h)))
    }

    /// `g Q g^T` for the Jacobian row `g` of `obs`: the variance, in units of the range
    /// variance, that this fit adds to a prediction for `obs`.
    pub(super) fn prediction_leverage(&self, obs: &Observation) -> f64 {
        let Some(q) = self.covariance else {
            return f64::INFINITY;
        };
        let g = jacobian_row(obs.position, self.xy);
        (0..3)
            .map(|i| (0..3).map(|j| g[i] * q[i][j] * g[j]).sum::<f64>())
            .sum::<f64>()
            .max(0.0)
    }
}

pub(super) fn distance(p: [f64; 3], xy: [f64; 2]) -> f64 {
    let (dx, dy) = (p[0] - xy[0], p[1] - xy[1]);
    (dx * dx + dy * dy + p[2] * p[2]).sqrt()
}

/// Derivatives of the residual `rho - b - |p - s|` by `x`, `y` and `b`.
fn jacobian_row(p: [f64; 3], xy: [f64; 2]) -> [f64; 3] {
    let d = distance(p, xy).max(1e-6);
    [(p[0] - xy[0]) / d, (p[1] - xy[1]) / d, -1.0]
}

/// `J^T J` and `J^T r` at `(xy, b)`, with the cost: row by row what [`jacobian_row`] gives,
/// with one distance per observation for the row and the residual.
fn normal_equations(obs: &[Observation], xy: [f64; 2], b: f64) -> ([[f64; 3]; 3], [f64; 3], f64) {
    let mut a = [[0.0; 3]; 3];
    let mut g = [0.0; 3];
    let mut cost = 0.0;
    for o in obs {
        let p = o.position;
        let d = distance(p, xy);
        let r = o.pseudo_range_m - b - d;
        let d = d.max(1e-6);
        let row = [(p[0] - xy[0]) / d, (p[1] - xy[1]) / d, -1.0];
        for i in 0..3 {
            g[i] += row[i] * r;
            for j in 0..3 {
                a[i][j] += row[i] * row[j];
            }
        }
        cost += r * r;
    }
    (a, g, cost)
}

/// The cost alone (what [`normal_equations`] must agree with).
#[cfg(test)]
fn cost_at(obs: &[Observation], xy: [f64; 2], b: f64) -> f64 {
    obs.iter()
        .map(|o| (o.pseudo_range_m - b - distance(o.position, xy)).powi(2))
        .sum()
}

/// Inverse of a symmetric 3x3 matrix; `None` when it is (numerically) singular.
pub(super) fn invert3(m: [[f64; 3]; 3]) -> Option<[[f64; 3]; 3]> {
    let c = |i: usize, j: usize| {
        let (r0, r1) = ((i + 1) % 3, (i + 2) % 3);
        let (c0, c1) = ((j + 1) % 3, (j + 2) % 3);
        m[r0][c0] * m[r1][c1] - m[r0][c1] * m[r1][c0]
    };
    let det = m[0][0] * c(0, 0) + m[0][1] * c(0, 1) + m[0][2] * c(0, 2);
    let scale = (m[0][0] + m[1][1] + m[2][2]).powi(3);
    if !det.is_finite() || det.abs() <= 1e-12 * scale.abs() {
        return None;
    }
    let mut inv = [[0.0; 3]; 3];
    for (i, row) in inv.iter_mut().enumerate() {
        for (j, v) in row.iter_mut().enumerate() {
            *v = c(j, i) / det;
        }
    }
    Some(inv)
}

/// Levenberg-Marquardt from `start`; `None` if the observations are fewer than three or the
/// iteration leaves finite numbers.
pub(super) fn solve(obs: &[Observation], start: [f64; 2], max_iterations: u32) -> Option<Fit> {
    if obs.len() < 3 {
        return None;
    }
    let mut xy = start;
    let n = obs.len() as f64;
    let mut b = obs
        .iter()
        .map(|o| o.pseudo_range_m - distance(o.position, xy))
        .sum::<f64>()
        / n;
    let mut lambda = 1e-3;
    // The normal equations at `(xy, b)`: those of an accepted step were computed to judge it.
    let mut at = normal_equations(obs, xy, b);
    for _ in 0..max_iterations {
        let (a, g, cost) = at;
        let mut damped = a;
        for (i, row) in damped.iter_mut().enumerate() {
            row[i] += lambda * a[i][i].max(1e-9);
        }
        let Some(inv) = invert3(damped) else {
            lambda *= 10.0;
            continue;
        };
        let step: [f64; 3] =
            std::array::from_fn(|i| -(0..3).map(|j| inv[i][j] * g[j]).sum::<f64>());
        let (next_xy, next_b) = ([xy[0] + step[0], xy[1] + step[1]], b + step[2]);
        let next = normal_equations(obs, next_xy, next_b);
        if next.2 < cost {
            (xy, b, at) = (next_xy, next_b, next);
            lambda = (lambda / 10.0).max(1e-12);
            if step.iter().all(|s| s.abs() < 1e-6) {
                break;
            }
        } else {
            lambda *= 10.0;
            if lambda > 1e12 {
                break;
            }
        }
    }
    let (a, _, cost) = at;
    let finite = xy.iter().all(|v| v.is_finite()) && b.is_finite() && cost.is_finite();
    finite.then(|| Fit {
        xy,
        bias_m: b,
        cost,
        covariance: invert3(a),
    })
}

/// Centroid, unit major axis and RMS spread along the minor axis of horizontal positions.
pub(super) fn principal_axes(points: &[[f64; 3]]) -> ([f64; 2], [f64; 2], f64) {
    let n = points.len().max(1) as f64;
    let cx = points.iter().map(|p| p[0]).sum::<f64>() / n;
    let cy = points.iter().map(|p| p[1]).sum::<f64>() / n;
    let (mut sxx, mut syy, mut sxy) = (0.0, 0.0, 0.0);
    for p in points {
        let (dx, dy) = (p[0] - cx, p[1] - cy);
        sxx += dx * dx / n;
        syy += dy * dy / n;
        sxy += dx * dy / n;
    }
    let mean = (sxx + syy) / 2.0;
    let half_gap = (((sxx - syy) / 2.0).powi(2) + sxy * sxy).sqrt();
    let minor = (mean - half_gap).max(0.0);
    let angle = 0.5 * (2.0 * sxy).atan2(sxx - syy);
    ([cx, cy], [angle.cos(), angle.sin()], minor.sqrt())
}

/// `point` reflected across the line through `centre` along the unit vector `axis`.
pub(super) fn reflect(point: [f64; 2], centre: [f64; 2], axis: [f64; 2]) -> [f64; 2] {
    let (dx, dy) = (point[0] - centre[0], point[1] - centre[1]);
    let along = dx * axis[0] + dy * axis[1];
    [
        centre[0] + 2.0 * along * axis[0] - dx,
        centre[1] + 2.0 * along * axis[1] - dy,
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frame_round_trips_and_measures_chords() {
        let frame = LocalFrame::new(45.19, 5.72);
        let enu = frame.enu(45.19, 5.72);
        assert!(enu.iter().all(|v| v.abs() < 1e-6));
        let p = frame.enu(45.29, 5.82);
        let (lat, lng) = frame.lat_lng(p[0], p[1]);
        // the tangent-plane point sits |up| above the sphere point, so it maps back close by
        assert!((lat - 45.29).abs() < 1e-4 && (lng - 5.82).abs() < 1e-4);
        // one degree of latitude: 111,195.1 m of arc, 111,193.7 m of chord
        let north = frame.enu(46.19, 5.72);
        let chord = (north[0].powi(2) + north[1].powi(2) + north[2].powi(2)).sqrt();
        assert!((chord - 111_193.7).abs() < 0.5, "{chord}");
    }

    #[test]
    fn normal_equations_are_the_jacobian_rows_and_cost_bit_for_bit() {
        let obs: Vec<Observation> = (0..7)
            .map(|i| {
                let t = f64::from(i);
                Observation {
                    position: [1_000.0 * t.cos() + 37.1, 1_300.0 * t.sin() - 12.9, -0.2 * t],
                    pseudo_range_m: 900.0 + 133.7 * t,
                }
            })
            .chain(std::iter::once(Observation {
                // On the origin: the distance is floored in the Jacobian only.
                position: [250.0, -40.0, 0.0],
                pseudo_range_m: 12.5,
            }))
            .collect();
        let (xy, b) = ([250.0, -40.0], 31.25);
        let (a, g, cost) = normal_equations(&obs, xy, b);
        let (mut a2, mut g2) = ([[0.0; 3]; 3], [0.0; 3]);
        for o in &obs {
            let row = jacobian_row(o.position, xy);
            let r = o.pseudo_range_m - b - distance(o.position, xy);
            for i in 0..3 {
                g2[i] += row[i] * r;
                for j in 0..3 {
                    a2[i][j] += row[i] * row[j];
                }
            }
        }
        assert_eq!((a, g), (a2, g2));
        assert_eq!(cost.to_bits(), cost_at(&obs, xy, b).to_bits());
    }

    #[test]
    fn invert3_rejects_singular() {
        assert!(invert3([[1.0, 2.0, 3.0], [2.0, 4.0, 6.0], [0.0, 0.0, 1.0]]).is_none());
        let inv = invert3([[2.0, 0.0, 0.0], [0.0, 4.0, 0.0], [0.0, 0.0, 1.0]]);
        assert_eq!(inv.map(|m| m[1][1]), Some(0.25));
    }

    #[test]
    fn principal_axes_of_a_line() {
        let points = [[0.0, 0.0, 0.0], [1.0, 1.0, 0.0], [2.0, 2.0, 0.0]];
        let (centre, axis, minor) = principal_axes(&points);
        assert_eq!(centre, [1.0, 1.0]);
        assert!((axis[0] - axis[1]).abs() < 1e-12 && minor < 1e-9);
        let mirrored = reflect([1.0, 0.0], centre, axis);
        assert!((mirrored[0] - 0.0).abs() < 1e-12 && (mirrored[1] - 1.0).abs() < 1e-12);
    }
}
