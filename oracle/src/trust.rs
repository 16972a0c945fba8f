//! Witness-graph trust: who may earn, judged from who witnessed whom over a rolling window.
//!
//! Evidence is every witness report that passed the regular checks (physics included) in the
//! window, aggregated per directed edge beaconer -> witness (count and RSSI-vs-log-distance
//! sums). The method, in order:
//!
//! 1. **Implausible radio statistics** (per witnessing hotspot, over all its edges, once it has
//!    `min_samples` reports spanning at least a `min_distance_span` ratio of distances): RSSI
//!    that is constant (standard deviation below `constant_sigma_db`), that does not fall with
//!    distance (fitted slope above `max_slope_db_per_decade`), or that follows a log-distance
//!    line more closely than real links ever do (residual below `min_residual_sigma_db`; real
//!    links vary by several dB, see `docs/physics.md`). Such a hotspot is distrusted, and its
//!    reports are no evidence for anyone else.
//!    Also **one-sided links**: a hotspot that hears neighbours strongly (at least
//!    `one_sided_min_reports` reports averaging `one_sided_min_rssi_dbm` or more) while those
//!    listening neighbours never hear any of its own beacons, although it beaconed at least
//!    `one_sided_min_beacons` times, is not where it claims to be (or its radio only pretends to
//!    hear): distrusted when at least `one_sided_min_links` of its strong links, and most of
//!    them, are one-sided.
//! 2. **Independent confirmation.** Two hotspots of different owners that witnessed each other
//!    are mutually confirmed. The trusted core is the connected group of mutually confirmed
//!    hotspots with the most distinct owners (at least `min_component_owners`), plus every group
//!    containing a governance anchor. Then, repeatedly, a hotspot whose beacons were witnessed
//!    by trusted hotspots of at least `min_confirmations` other owners becomes trusted.
//!    Everything else — rings that only ever confirm each other, hotspots no independent
//!    hotspot ever heard — is not trusted.
//!
//! Limits, stated plainly: an honest network cut off from the main one (an isolated town) is
//! not trusted until governance anchors one of its hotspots; a ring with more owners than the
//! honest network would be taken for the core (anchors again are the remedy); and
//! `min_confirmations` colluders inside the trusted core can vouch for an outsider — the
//! physics checks are what stand against their forged reports.
//!
//! Untrusted hotspots' beacons and witness reports earn nothing, with the explanation stored in
//! the verdict. Pure and deterministic: the same evidence gives the same result.

use schemas::PublicKey;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::Duration;

/// Parameters of the trust evaluation.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct TrustParams {
    /// Evidence older than this is forgotten.
    #[serde(with = "humantime_serde")]
    pub window: Duration,
    /// A mutually confirmed group needs this many distinct owners to be trusted on its own.
    pub min_component_owners: usize,
    /// Distinct other owners whose trusted hotspots must witness a hotspot outside the core.
    pub min_confirmations: usize,
    /// Hotspots governance vouches for (e.g. audited sites); their groups are trusted.
    pub anchors: Vec<PublicKey>,
    /// Reports a witnessing hotspot needs before its statistics are judged.
    pub min_samples: u64,
    /// Largest / smallest distance its reports must span for slope and residual to be judged.
    pub min_distance_span: f64,
    /// RSSI standard deviation below this (dB) is "constant".
    pub constant_sigma_db: f64,
    /// RSSI must fall by at least this much per decade of distance (dB; negative).
    pub max_slope_db_per_decade: f64,
    /// RSSI scatter around its own log-distance fit below this (dB) is "too perfect".
    pub min_residual_sigma_db: f64,
    /// A link counts as strong from this many reports ...
    pub one_sided_min_reports: u64,
    /// ... averaging at least this RSSI (dBm).
    pub one_sided_min_rssi_dbm: f64,
    /// Beacons (passing the regular checks) a hotspot must have sent for silence to count.
    pub one_sided_min_beacons: u64,
    /// One-sided strong links needed to distrust (and they must be most of its strong links).
    pub one_sided_min_links: usize,
}

impl Default for TrustParams {
    fn default() -> Self {
        Self {
            window: Duration::from_secs(3 * 24 * 3600),
            min_component_owners: 3,
            min_confirmations: 2,
            anchors: Vec::new(),
            min_samples: 12,
            min_distance_span: 2.0,
            constant_sigma_db: 0.5,
            max_slope_db_per_decade: -5.0,
            min_residual_sigma_db: 3.0,
            one_sided_min_reports: 3,
            one_sided_min_rssi_dbm: -115.0,
            one_sided_min_beacons: 3,
            one_sided_min_links: 2,
        }
    }
}

/// Aggregated evidence of one directed edge: `beaconer`'s beacons witnessed by `witness`.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct EdgeEvidence {
    pub count: u64,
    /// Sums over the reports of x = log10(distance m) and y = RSSI (dBm).
    pub sum_x: f64,
    pub sum_y: f64,
    pub sum_xx: f64,
    pub sum_xy: f64,
    pub sum_yy: f64,
    pub min_x: f64,
    pub max_x: f64,
}

impl EdgeEvidence {
    /// Evidence from integer sums as SQL computes them: `x` in log10(m) x 1000, `y` in dBm x 10.
    #[allow(clippy::too_many_arguments)]
    pub fn from_sums(
        count: i64,
        sum_x_e3: i64,
        sum_xx_e6: i64,
        sum_y_d: i64,
        sum_yy_d2: i64,
        sum_xy_e4: i64,
        min_x_e3: i64,
        max_x_e3: i64,
    ) -> Self {
        Self {
            count: count.max(0) as u64,
            sum_x: sum_x_e3 as f64 / 1e3,
            sum_xx: sum_xx_e6 as f64 / 1e6,
            sum_y: sum_y_d as f64 / 10.0,
            sum_yy: sum_yy_d2 as f64 / 100.0,
            sum_xy: sum_xy_e4 as f64 / 1e4,
            min_x: min_x_e3 as f64 / 1e3,
            max_x: max_x_e3 as f64 / 1e3,
        }
    }

    /// Adds one report.
    pub fn add(&mut self, distance_m: f64, rssi_dbm: f64) {
        let x = distance_m.max(1.0).log10();
        if self.count == 0 {
            self.min_x = x;
            self.max_x = x;
        }
        self.count += 1;
        self.sum_x += x;
        self.sum_y += rssi_dbm;
        self.sum_xx += x * x;
        self.sum_xy += x * rssi_dbm;
        self.sum_yy += rssi_dbm * rssi_dbm;
        self.min_x = self.min_x.min(x);
        self.max_x = self.max_x.max(x);
    }

    fn merge(&mut self, o: &EdgeEvidence) {
        if o.count == 0 {
            return;
        }
        if self.count == 0 {
            *self = *o;
            return;
        }
        self.count += o.count;
        self.sum_x += o.sum_x;
        self.sum_y += o.sum_y;
        self.sum_xx += o.sum_xx;
        self.sum_xy += o.sum_xy;
        self.sum_yy += o.sum_yy;
        self.min_x = self.min_x.min(o.min_x);
        self.max_x = self.max_x.max(o.max_x);
    }
}

/// Why a hotspot is not trusted.
#[derive(Debug, Clone, PartialEq)]
pub enum Distrust {
    /// RSSI is (nearly) constant.
    ConstantRssi {
        sigma_db: f64,
        min_sigma_db: f64,
        samples: u64,
    },
    /// RSSI does not fall with distance.
    RssiIgnoresDistance {
        slope_db_per_decade: f64,
        max_slope_db_per_decade: f64,
        samples: u64,
    },
    /// RSSI follows a log-distance line too closely to be real.
    RssiTooRegular {
        residual_db: f64,
        min_residual_db: f64,
        samples: u64,
    },
    /// It hears neighbours strongly that never hear its beacons.
    OneSidedLinks { one_sided: usize, strong: usize },
    /// No trusted hotspot of another owner confirms it.
    Unconfirmed {
        witnessed_by: usize,
        owners: usize,
        group: usize,
        group_owners: usize,
    },
}

impl Distrust {
    /// Stable code.
    pub fn code(&self) -> &'static str {
        match self {
            Distrust::ConstantRssi { .. } => "constant_rssi",
            Distrust::RssiIgnoresDistance { .. } => "rssi_ignores_distance",
            Distrust::RssiTooRegular { .. } => "rssi_too_regular",
            Distrust::OneSidedLinks { .. } => "one_sided_links",
            Distrust::Unconfirmed { .. } => "unconfirmed",
        }
    }

    /// Measured value and threshold.
    pub fn measured_and_threshold(&self) -> Option<(f64, f64)> {
        match *self {
            Distrust::ConstantRssi {
                sigma_db,
                min_sigma_db,
                ..
            } => Some((sigma_db, min_sigma_db)),
            Distrust::RssiIgnoresDistance {
                slope_db_per_decade,
                max_slope_db_per_decade,
                ..
            } => Some((slope_db_per_decade, max_slope_db_per_decade)),
            Distrust::RssiTooRegular {
                residual_db,
                min_residual_db,
                ..
            } => Some((residual_db, min_residual_db)),
            Distrust::OneSidedLinks { one_sided, strong } => {
                Some((one_sided as f64, strong as f64))
            }
            Distrust::Unconfirmed { witnessed_by, .. } => Some((witnessed_by as f64, 1.0)),
        }
    }
}

impl std::fmt::Display for Distrust {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Distrust::OneSidedLinks { one_sided, strong } => write!(
                f,
                "hears {one_sided} of its {strong} strong neighbours, which listen, but none of them ever heard its own beacons"
            ),
            Distrust::ConstantRssi {
                sigma_db,
                min_sigma_db,
                samples,
            } => {
                write!(
                    f,
                    "RSSI is constant: std-dev {sigma_db:.2} dB over {samples} reports (real links vary by more than {min_sigma_db} dB)"
                )
            }
            Distrust::RssiIgnoresDistance {
                slope_db_per_decade,
                max_slope_db_per_decade,
                samples,
            } => write!(
                f,
                "RSSI does not fall with distance: {slope_db_per_decade:.1} dB per decade over {samples} reports (at most {max_slope_db_per_decade} dB)"
            ),
            Distrust::RssiTooRegular {
                residual_db,
                min_residual_db,
                samples,
            } => write!(
                f,
                "RSSI follows a path-loss line within {residual_db:.2} dB over {samples} reports; real links scatter by at least {min_residual_db} dB"
            ),
            Distrust::Unconfirmed {
                witnessed_by,
                owners,
                group,
                group_owners,
            } => write!(
                f,
                "not independently confirmed: its beacons were heard by {witnessed_by} hotspot(s) of {owners} other owner(s), none trusted; \
                 its mutually-witnessing group has {group} hotspot(s) of {group_owners} owner(s)"
            ),
        }
    }
}

/// The outcome of an evaluation.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TrustTable {
    /// Hotspots that are not trusted, with why. Hotspots with no evidence at all are absent
    /// from both maps (see [`TrustTable::judge`]).
    pub distrusted: BTreeMap<PublicKey, Distrust>,
    /// Hotspots that are trusted.
    pub trusted: BTreeSet<PublicKey>,
}

impl TrustTable {
    /// Whether `key` may earn: `Err` with the reason when not. A hotspot without any evidence
    /// is unconfirmed.
    pub fn judge(&self, key: &PublicKey) -> Result<(), Distrust> {
        if self.trusted.contains(key) {
            return Ok(());
        }
        Err(self
            .distrusted
            .get(key)
            .cloned()
            .unwrap_or(Distrust::Unconfirmed {
                witnessed_by: 0,
                owners: 0,
                group: 1,
                group_owners: 1,
            }))
    }
}

/// Evaluates trust from edge evidence, owners, and how many beacons each hotspot sent (that
/// passed the regular checks) in the window.
pub fn evaluate(
    edges: &HashMap<(PublicKey, PublicKey), EdgeEvidence>,
    owners: &HashMap<PublicKey, PublicKey>,
    beacons: &HashMap<PublicKey, u64>,
    params: &TrustParams,
) -> TrustTable {
    let mut table = TrustTable::default();
    let owner = |k: &PublicKey| owners.get(k).copied().unwrap_or(*k);
    // 1. Radio statistics per witnessing hotspot.
    // Summed in key order: float addition is not associative, and the same evidence must give
    // the same measured values (bit for bit) on every run and machine.
    let mut ordered: Vec<(&(PublicKey, PublicKey), &EdgeEvidence)> = edges.iter().collect();
    ordered.sort_unstable_by_key(|(edge, _)| **edge);
    let mut per_witness: BTreeMap<PublicKey, EdgeEvidence> = BTreeMap::new();
    for ((_, witness), e) in ordered {
        per_witness.entry(*witness).or_default().merge(e);
    }
    for (witness, e) in &per_witness {
        if let Some(reason) = implausible(e, params) {
            table.distrusted.insert(*witness, reason);
        }
    }
    for (witness, reason) in one_sided(edges, beacons, params) {
        table.distrusted.entry(witness).or_insert(reason);
    }
    // Evidence from plausible witnesses of other owners only.
    let evidence: BTreeSet<(PublicKey, PublicKey)> = edges
        .iter()
        .filter(|((b, w), e)| {
            e.count > 0 && owner(b) != owner(w) && !table.distrusted.contains_key(w)
        })
        .map(|(edge, _)| *edge)
        .collect();
    // 2. Mutually confirmed groups.
    let groups = mutual_groups(&evidence);
    let anchors: BTreeSet<PublicKey> = params.anchors.iter().copied().collect();
    let owners_of =
        |group: &BTreeSet<PublicKey>| group.iter().map(&owner).collect::<BTreeSet<_>>().len();
    let most = groups.values().map(owners_of).max().unwrap_or(0);
    for group in groups.values() {
        let core = most >= params.min_component_owners && owners_of(group) == most;
        if core || group.iter().any(|k| anchors.contains(k)) {
            table
                .trusted
                .extend(group.iter().filter(|k| !table.distrusted.contains_key(k)));
        }
    }
    table
        .trusted
        .extend(anchors.iter().filter(|k| !table.distrusted.contains_key(k)));
    propagate(&mut table, &evidence, &owner, params);
    explain_unconfirmed(&mut table, &evidence, &groups, &owner);
    table
}

/// Hotspots whose strong links are mostly one-sided (see the module docs).
fn one_sided(
    edges: &HashMap<(PublicKey, PublicKey), EdgeEvidence>,
    beacons: &HashMap<PublicKey, u64>,
    p: &TrustParams,
) -> Vec<(PublicKey, Distrust)> {
    let listening: BTreeSet<PublicKey> = edges.keys().map(|(_, w)| *w).collect();
    let mut strong: BTreeMap<PublicKey, (usize, usize)> = BTreeMap::new();
    for ((beaconer, witness), e) in edges {
        let mean_rssi = e.sum_y / e.count.max(1) as f64;
        let is_strong = e.count >= p.one_sided_min_reports && mean_rssi >= p.one_sided_min_rssi_dbm;
        if !is_strong || !listening.contains(beaconer) {
            continue;
        }
        let entry = strong.entry(*witness).or_default();
        entry.1 += 1;
        if !edges.contains_key(&(*witness, *beaconer)) {
            entry.0 += 1;
        }
    }
    strong
        .into_iter()
        .filter(|(w, (one, all))| {
            beacons.get(w).copied().unwrap_or(0) >= p.one_sided_min_beacons
                && *one >= p.one_sided_min_links
                && 2 * one > *all
        })
        .map(|(w, (one_sided, strong))| (w, Distrust::OneSidedLinks { one_sided, strong }))
        .collect()
}

fn implausible(e: &EdgeEvidence, p: &TrustParams) -> Option<Distrust> {
    if e.count < p.min_samples {
        return None;
    }
    let n = e.count as f64;
    let var_y = (e.sum_yy / n - (e.sum_y / n).powi(2)).max(0.0);
    let sigma = var_y.sqrt();
    if sigma < p.constant_sigma_db {
        return Some(Distrust::ConstantRssi {
            sigma_db: sigma,
            min_sigma_db: p.constant_sigma_db,
            samples: e.count,
        });
    }
    if 10f64.powf(e.max_x - e.min_x) < p.min_distance_span {
        return None;
    }
    let var_x = (e.sum_xx / n - (e.sum_x / n).powi(2)).max(f64::MIN_POSITIVE);
    let cov = e.sum_xy / n - (e.sum_x / n) * (e.sum_y / n);
    let slope = cov / var_x;
    if slope > p.max_slope_db_per_decade {
        return Some(Distrust::RssiIgnoresDistance {
            slope_db_per_decade: slope,
            max_slope_db_per_decade: p.max_slope_db_per_decade,
            samples: e.count,
        });
    }
    let residual = (var_y - slope * cov).max(0.0).sqrt();
    if residual < p.min_residual_sigma_db {
        return Some(Distrust::RssiTooRegular {
            residual_db: residual,
            min_residual_db: p.min_residual_sigma_db,
            samples: e.count,
        });
    }
    None
}

/// Connected components of the mutual-witness graph, keyed by their smallest member.
fn mutual_groups(
    evidence: &BTreeSet<(PublicKey, PublicKey)>,
) -> BTreeMap<PublicKey, BTreeSet<PublicKey>> {
    let mut parent: BTreeMap<PublicKey, PublicKey> = BTreeMap::new();
    fn find(parent: &mut BTreeMap<PublicKey, PublicKey>, k: PublicKey) -> PublicKey {
        let p = *parent.entry(k).or_insert(k);
        if p == k {
            return k;
        }
        let root = find(parent, p);
        parent.insert(k, root);
        root
    }
    for (b, w) in evidence {
        find(&mut parent, *b);
        find(&mut parent, *w);
        if evidence.contains(&(*w, *b)) {
            let (rb, rw) = (find(&mut parent, *b), find(&mut parent, *w));
            if rb != rw {
                let (small, large) = if rb < rw { (rb, rw) } else { (rw, rb) };
                parent.insert(large, small);
            }
        }
    }
    let keys: Vec<PublicKey> = parent.keys().copied().collect();
    let mut groups: BTreeMap<PublicKey, BTreeSet<PublicKey>> = BTreeMap::new();
    for k in keys {
        let root = find(&mut parent, k);
        groups.entry(root).or_default().insert(k);
    }
    groups
}

/// Adds hotspots confirmed by enough trusted witnesses of other owners, until nothing changes.
fn propagate(
    table: &mut TrustTable,
    evidence: &BTreeSet<(PublicKey, PublicKey)>,
    owner: &impl Fn(&PublicKey) -> PublicKey,
    p: &TrustParams,
) {
    loop {
        let mut confirmations: BTreeMap<PublicKey, BTreeSet<PublicKey>> = BTreeMap::new();
        for (b, w) in evidence {
            if table.trusted.contains(w) && !table.trusted.contains(b) && owner(b) != owner(w) {
                confirmations.entry(*b).or_default().insert(*w);
            }
        }
        let newly: Vec<PublicKey> = confirmations
            .into_iter()
            .filter(|(b, ws)| {
                let owners = ws.iter().map(owner).collect::<BTreeSet<_>>().len();
                owners >= p.min_confirmations.max(1) && !table.distrusted.contains_key(b)
            })
            .map(|(b, _)| b)
            .collect();
        if newly.is_empty() {
            return;
        }
        table.trusted.extend(newly);
    }
}

const KEY_MIN: PublicKey = PublicKey::from_bytes([0; 32]);
const KEY_MAX: PublicKey = PublicKey::from_bytes([0xff; 32]);

fn explain_unconfirmed(
    table: &mut TrustTable,
    evidence: &BTreeSet<(PublicKey, PublicKey)>,
    groups: &BTreeMap<PublicKey, BTreeSet<PublicKey>>,
    owner: &impl Fn(&PublicKey) -> PublicKey,
) {
    for group in groups.values() {
        let group_owners = group.iter().map(owner).collect::<BTreeSet<_>>().len();
        for k in group {
            if table.trusted.contains(k) || table.distrusted.contains_key(k) {
                continue;
            }
            // Evidence is ordered by (beaconer, witness): k's witnesses are one range.
            let witnesses: BTreeSet<PublicKey> = evidence
                .range((*k, KEY_MIN)..=(*k, KEY_MAX))
                .map(|(_, w)| *w)
                .collect();
            let owners = witnesses.iter().map(owner).collect::<BTreeSet<_>>().len();
            table.distrusted.insert(
                *k,
                Distrust::Unconfirmed {
                    witnessed_by: witnesses.len(),
                    owners,
                    group: group.len(),
                    group_owners,
                },
            );
        }
    }
}
