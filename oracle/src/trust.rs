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

mod evidence;

pub use evidence::{EdgeSums, Evidence, NotAdded, Reports, Step, Window, log_distance_e3};

use schemas::PublicKey;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeSet, HashMap, HashSet};
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
    /// Evidence from exact integer sums: `x` in log10(m) x 1000, `y` in dBm x 10.
    #[allow(clippy::too_many_arguments)]
    pub fn from_sums(
        count: i128,
        sum_x_e3: i128,
        sum_xx_e6: i128,
        sum_y_d: i128,
        sum_yy_d2: i128,
        sum_xy_e4: i128,
        min_x_e3: i128,
        max_x_e3: i128,
    ) -> Self {
        Self {
            count: u64::try_from(count.max(0)).unwrap_or(u64::MAX),
            sum_x: sum_x_e3 as f64 / 1e3,
            sum_xx: sum_xx_e6 as f64 / 1e6,
            sum_y: sum_y_d as f64 / 10.0,
            sum_yy: sum_yy_d2 as f64 / 100.0,
            sum_xy: sum_xy_e4 as f64 / 1e4,
            min_x: min_x_e3 as f64 / 1e3,
            max_x: max_x_e3 as f64 / 1e3,
        }
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
    pub distrusted: HashMap<PublicKey, Distrust>,
    /// Hotspots that are trusted.
    pub trusted: HashSet<PublicKey>,
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

/// Evaluates trust from the evidence of a window (edges, and beacons per hotspot that passed the
/// regular checks) and each hotspot's owner (a hotspot without one is its own owner).
///
/// Works on the interned ids in one pass over the evidence's sorted bins (settled evidence, as
/// [`Window::finish`] leaves it; unsettled evidence is settled in a copy first). Nothing below
/// depends on the order of the ids: a witness's radio statistics are exact integer sums, and
/// the groups, confirmations and counts are sets.
pub fn evaluate(
    evidence: &Evidence,
    owner_of: impl Fn(&PublicKey) -> Option<PublicKey>,
    params: &TrustParams,
) -> TrustTable {
    let settled_copy;
    let evidence = if evidence.is_settled() {
        evidence
    } else {
        let mut copy = evidence.clone();
        copy.settle();
        settled_copy = copy;
        &settled_copy
    };
    let bins = evidence.settled_bins().unwrap_or_default();
    let n = evidence.keys.len();
    let owner = owners(&evidence.keys, owner_of);
    // 1. Radio statistics per witnessing hotspot, who listens at all, and the strong links.
    let mut per_witness = vec![evidence::Sums::default(); n];
    let mut listening = vec![false; n];
    let mut strong_links: Vec<(u32, u32)> = Vec::new();
    for edge in bins.chunk_by(|a, b| a.edge() == b.edge()) {
        let (beaconer, witness) = edge[0].edge();
        let sums = &mut per_witness[witness as usize];
        let (mut count, mut sy) = (0u64, 0i64);
        for bin in edge {
            sums.add(bin);
            count += u64::from(bin.n);
            sy += bin.sy;
        }
        listening[witness as usize] = true;
        let (count, mean_rssi) = evidence::count_and_mean_rssi(count, sy);
        if count >= params.one_sided_min_reports && mean_rssi >= params.one_sided_min_rssi_dbm {
            strong_links.push((beaconer, witness));
        }
    }
    let mut distrusted: Vec<Option<Distrust>> = per_witness
        .iter()
        .map(|sums| implausible(sums, params))
        .collect();
    drop(per_witness);
    let one_sided = one_sided(
        bins,
        &strong_links,
        &listening,
        &evidence.beacons,
        n,
        params,
    );
    drop((strong_links, listening));
    for (w, reason) in one_sided {
        distrusted[w as usize].get_or_insert(reason);
    }
    // Evidence from plausible witnesses of other owners only, sorted by (beaconer, witness).
    let mut confirming: Vec<(u32, u32)> = Vec::new();
    for bin in bins {
        let (b, w) = bin.edge();
        if owner[b as usize] != owner[w as usize]
            && distrusted[w as usize].is_none()
            && confirming.last() != Some(&(b, w))
        {
            confirming.push((b, w));
        }
    }
    // 2. Mutually confirmed groups.
    let groups = mutual_groups(&confirming, n);
    let mut trusted = vec![false; n];
    let anchors: BTreeSet<PublicKey> = params.anchors.iter().copied().collect();
    let mut anchored = vec![false; n];
    for id in anchors.iter().filter_map(|k| evidence.id(k)) {
        anchored[id as usize] = true;
    }
    let group_owners: Vec<usize> = groups
        .iter()
        .map(|group| owners_of(&owner, group))
        .collect();
    let most = group_owners.iter().copied().max().unwrap_or(0);
    for (group, owners) in groups.iter().zip(&group_owners) {
        let core = most >= params.min_component_owners && *owners == most;
        if core || group.iter().any(|k| anchored[*k as usize]) {
            for k in group {
                trusted[*k as usize] |= distrusted[*k as usize].is_none();
            }
        }
    }
    for (k, anchor) in anchored.iter().enumerate() {
        trusted[k] |= *anchor && distrusted[k].is_none();
    }
    propagate(&owner, &mut trusted, &distrusted, &confirming, params);
    explain_unconfirmed(
        &owner,
        &trusted,
        &mut distrusted,
        &confirming,
        &groups,
        &group_owners,
    );
    let mut table = TrustTable::default();
    for (id, key) in evidence.keys.iter().enumerate() {
        if trusted[id] {
            table.trusted.insert(*key);
        } else if let Some(reason) = distrusted[id].take() {
            table.distrusted.insert(*key, reason);
        }
    }
    // Anchors without any evidence are trusted too (nothing speaks against them).
    table
        .trusted
        .extend(anchors.iter().filter(|k| evidence.id(k).is_none()));
    table
}

/// Each key's owner, interned (only compared for equality and counted).
fn owners(keys: &[PublicKey], owner_of: impl Fn(&PublicKey) -> Option<PublicKey>) -> Vec<u32> {
    let mut interned: HashMap<PublicKey, u32> = HashMap::new();
    keys.iter()
        .map(|k| {
            let next = interned.len() as u32;
            *interned.entry(owner_of(k).unwrap_or(*k)).or_insert(next)
        })
        .collect()
}

/// Distinct owners of `hotspots`.
fn owners_of<'k>(owner: &[u32], hotspots: impl IntoIterator<Item = &'k u32>) -> usize {
    let mut owners: Vec<u32> = hotspots.into_iter().map(|k| owner[*k as usize]).collect();
    owners.sort_unstable();
    owners.dedup();
    owners.len()
}

/// Hotspots whose strong links are mostly one-sided (see the module docs): `strong_links`
/// are the strong (beaconer, witness) edges, `listening` whether a hotspot witnessed anyone.
fn one_sided(
    bins: &[evidence::Bin],
    strong_links: &[(u32, u32)],
    listening: &[bool],
    beacons: &HashMap<u32, u64>,
    n: usize,
    p: &TrustParams,
) -> Vec<(u32, Distrust)> {
    // Per witness: (one-sided strong links, strong links).
    let mut strong = vec![(0usize, 0usize); n];
    for &(beaconer, witness) in strong_links {
        if !listening[beaconer as usize] {
            continue;
        }
        let entry = &mut strong[witness as usize];
        entry.1 += 1;
        if !Evidence::has_edge(bins, witness, beaconer) {
            entry.0 += 1;
        }
    }
    strong
        .into_iter()
        .enumerate()
        .filter(|(w, (one, all))| {
            *all > 0
                && beacons.get(&(*w as u32)).copied().unwrap_or(0) >= p.one_sided_min_beacons
                && *one >= p.one_sided_min_links
                && 2 * one > *all
        })
        .map(|(w, (one_sided, strong))| (w as u32, Distrust::OneSidedLinks { one_sided, strong }))
        .collect()
}

/// A witness's radio statistics, judged (see the module docs).
fn implausible(s: &evidence::Sums, p: &TrustParams) -> Option<Distrust> {
    let samples = s.count();
    if samples < p.min_samples || samples == 0 {
        return None;
    }
    let (var_y, var_x, cov) = s.moments();
    let var_y = var_y.max(0.0);
    let sigma = var_y.sqrt();
    if sigma < p.constant_sigma_db {
        return Some(Distrust::ConstantRssi {
            sigma_db: sigma,
            min_sigma_db: p.constant_sigma_db,
            samples,
        });
    }
    let (min_x, max_x) = s.x_range_e3();
    if 10f64.powf((max_x - min_x) as f64 / 1e3) < p.min_distance_span {
        return None;
    }
    let slope = cov / var_x.max(f64::MIN_POSITIVE);
    if slope > p.max_slope_db_per_decade {
        return Some(Distrust::RssiIgnoresDistance {
            slope_db_per_decade: slope,
            max_slope_db_per_decade: p.max_slope_db_per_decade,
            samples,
        });
    }
    let residual = (var_y - slope * cov).max(0.0).sqrt();
    if residual < p.min_residual_sigma_db {
        return Some(Distrust::RssiTooRegular {
            residual_db: residual,
            min_residual_db: p.min_residual_sigma_db,
            samples,
        });
    }
    None
}

/// Connected components of the mutual-witness graph (every hotspot in `confirming` is in one),
/// each sorted, ordered by their smallest member.
fn mutual_groups(confirming: &[(u32, u32)], n: usize) -> Vec<Vec<u32>> {
    fn find(parent: &mut [u32], k: u32) -> u32 {
        let mut root = k;
        while parent[root as usize] != root {
            root = parent[root as usize];
        }
        let mut k = k;
        while parent[k as usize] != root {
            let next = parent[k as usize];
            parent[k as usize] = root;
            k = next;
        }
        root
    }
    let mut parent: Vec<u32> = (0..n as u32).collect();
    let mut member = vec![false; n];
    // A pair `b < w` is mutual when `(w, b)` confirms too. `confirming` is sorted, so the
    // reversed pairs `b > w`, sorted, are merged with it in one pass (a binary search per pair
    // was a quarter of the verifier's CPU at Helium's peak: random reads over the whole list).
    let mut reversed: Vec<(u32, u32)> = confirming
        .iter()
        .filter(|(b, w)| b > w)
        .map(|&(b, w)| (w, b))
        .collect();
    reversed.sort_unstable();
    let mut reversed = reversed.into_iter().peekable();
    for &(b, w) in confirming {
        member[b as usize] = true;
        member[w as usize] = true;
        if b >= w {
            continue;
        }
        while reversed.next_if(|&pair| pair < (b, w)).is_some() {}
        if reversed.peek() == Some(&(b, w)) {
            let (rb, rw) = (find(&mut parent, b), find(&mut parent, w));
            // The smaller root stays: a group's root is its smallest member.
            parent[rb.max(rw) as usize] = rb.min(rw);
        }
    }
    let mut index: HashMap<u32, usize> = HashMap::new();
    let mut groups: Vec<Vec<u32>> = Vec::new();
    for k in 0..n as u32 {
        if member[k as usize] {
            let root = find(&mut parent, k);
            let i = *index.entry(root).or_insert_with(|| {
                groups.push(Vec::new());
                groups.len() - 1
            });
            groups[i].push(k);
        }
    }
    groups
}

/// Adds hotspots confirmed by trusted witnesses of at least `min_confirmations` other owners,
/// until nothing changes.
fn propagate(
    owner: &[u32],
    trusted: &mut [bool],
    distrusted: &[Option<Distrust>],
    confirming: &[(u32, u32)],
    p: &TrustParams,
) {
    loop {
        let mut newly = Vec::new();
        for witnesses in confirming.chunk_by(|a, b| a.0 == b.0) {
            let b = witnesses[0].0;
            if trusted[b as usize] || distrusted[b as usize].is_some() {
                continue;
            }
            let owners = owners_of(
                owner,
                witnesses
                    .iter()
                    .filter(|(_, w)| trusted[*w as usize])
                    .map(|(_, w)| w),
            );
            if owners >= p.min_confirmations.max(1) {
                newly.push(b);
            }
        }
        if newly.is_empty() {
            return;
        }
        for b in newly {
            trusted[b as usize] = true;
        }
    }
}

fn explain_unconfirmed(
    owner: &[u32],
    trusted: &[bool],
    distrusted: &mut [Option<Distrust>],
    confirming: &[(u32, u32)],
    groups: &[Vec<u32>],
    group_owners: &[usize],
) {
    for (group, group_owners) in groups.iter().zip(group_owners) {
        for k in group {
            if trusted[*k as usize] || distrusted[*k as usize].is_some() {
                continue;
            }
            // Sorted by (beaconer, witness): k's witnesses are one run.
            let from = confirming.partition_point(|(b, _)| b < k);
            let to = confirming.partition_point(|(b, _)| b <= k);
            let witnesses = &confirming[from..to];
            distrusted[*k as usize] = Some(Distrust::Unconfirmed {
                witnessed_by: witnesses.len(),
                owners: owners_of(owner, witnesses.iter().map(|(_, w)| w)),
                group: group.len(),
                group_owners: *group_owners,
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::mutual_groups;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;
    use std::collections::{BTreeSet, HashSet};

    /// Components of the mutual pairs by search over a set: the definition, slowly.
    fn reference(confirming: &[(u32, u32)], n: usize) -> Vec<Vec<u32>> {
        let pairs: HashSet<(u32, u32)> = confirming.iter().copied().collect();
        let members: BTreeSet<u32> = confirming.iter().flat_map(|&(b, w)| [b, w]).collect();
        let mut neighbours = vec![Vec::new(); n];
        for &(b, w) in confirming {
            if pairs.contains(&(w, b)) {
                neighbours[b as usize].push(w);
            }
        }
        let mut seen = vec![false; n];
        let mut groups = Vec::new();
        for &start in &members {
            if seen[start as usize] {
                continue;
            }
            seen[start as usize] = true;
            let (mut group, mut stack) = (vec![start], vec![start]);
            while let Some(k) = stack.pop() {
                for &m in &neighbours[k as usize] {
                    if !seen[m as usize] {
                        seen[m as usize] = true;
                        group.push(m);
                        stack.push(m);
                    }
                }
            }
            group.sort_unstable();
            groups.push(group);
        }
        groups
    }

    #[test]
    fn mutual_groups_are_the_components_of_reciprocal_confirmations() {
        let mut rng = ChaCha8Rng::seed_from_u64(17);
        let mut nontrivial = 0;
        for round in 0..200 {
            let n = rng.random_range(1..60usize);
            let edges = rng.random_range(0..=n * 4);
            let mut confirming: Vec<(u32, u32)> = (0..edges)
                .map(|_| {
                    let b = rng.random_range(0..n as u32);
                    (b, rng.random_range(0..n as u32))
                })
                .filter(|(b, w)| b != w)
                .collect();
            // Reciprocate some, so groups form.
            let extra: Vec<(u32, u32)> = confirming
                .iter()
                .filter(|_| rng.random_bool(0.4))
                .map(|&(b, w)| (w, b))
                .collect();
            confirming.extend(extra);
            confirming.sort_unstable();
            confirming.dedup();
            let groups = mutual_groups(&confirming, n);
            assert_eq!(groups, reference(&confirming, n), "round {round}");
            nontrivial += groups.iter().filter(|g| g.len() > 2).count();
        }
        assert!(nontrivial > 100, "the rounds built groups: {nontrivial}");
    }
}
