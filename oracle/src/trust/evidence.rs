//! The evidence trust is judged from, kept exactly as the window moves.
//!
//! Every witness report that passed the regular checks in the trust window counts towards its
//! directed edge beaconer -> witness, and every beacon that passed them towards its hotspot.
//! The window is days long and moves at every refresh (30 minutes by default); re-reading it
//! at each refresh cost O(reports in the window) each time, which made a day's verification
//! superlinear (see `docs/benchmarks.md`). Here the sums are integers, so they can be added and
//! subtracted exactly: a refresh subtracts the reports that left the window and adds those that
//! entered it ([`Window`] says which slices of receive time to read), and reports stored behind
//! the window's end are added as they are stored.
//!
//! An edge's distance is fixed by its two asserted locations, so its reports are kept per
//! distance (one bin, unless a hotspot moved): the sums over x = log10(distance) follow from the
//! bins, and so do the smallest and largest distance after a removal. Keys are interned as
//! `u32`.
//!
//! The bins live in one array sorted by (beaconer, witness, distance), 32 bytes each: at
//! Helium's peak a day has about 40 M edges, and a hash map of them took about 2.7 GB and was
//! read in random order by every evaluation. Additions go to a small hash map first and are
//! merged into the array in one pass when it grows or the window settles
//! ([`Evidence::settle`]); [`super::evaluate`] then reads the array front to back.

use super::EdgeEvidence;
use schemas::PublicKey;
use std::collections::{BTreeMap, HashMap};
use std::ops::Range;

/// The distance as evidence stores it: log10(metres, at least 1) x 1000, rounded.
pub fn log_distance_e3(distance_m: u32) -> i64 {
    (f64::from(distance_m.max(1)).log10() * 1000.0).round() as i64
}

/// Reports of one edge at one distance, with their RSSI sums (RSSI in dBm x 10).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reports {
    /// [`log_distance_e3`] of the edge's distance.
    pub x_e3: i32,
    pub n: u32,
    /// Sum of RSSI (dBm x 10).
    pub sy: i64,
    /// Sum of squared RSSI ((dBm x 10)^2).
    pub syy: i64,
}

impl Reports {
    /// One report at `distance_m` with `signal_ddbm` (dBm x 10), as the verifier stores it.
    pub fn one(distance_m: u32, signal_ddbm: i32) -> Self {
        let y = i64::from(signal_ddbm);
        Self {
            // At most log10(u32::MAX) x 1000 = 9,633.
            x_e3: log_distance_e3(distance_m) as i32,
            n: 1,
            sy: y,
            syy: y * y,
        }
    }
}

/// The reports of one edge at one distance: the unit the evidence stores.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) struct Bin {
    pub(super) beaconer: u32,
    pub(super) witness: u32,
    pub(super) x_e3: i32,
    /// 0 only for a bin emptied since the last [`Evidence::settle`].
    pub(super) n: u32,
    pub(super) sy: i64,
    pub(super) syy: i64,
}

impl Bin {
    pub(super) fn key(&self) -> (u32, u32, i32) {
        (self.beaconer, self.witness, self.x_e3)
    }

    pub(super) fn edge(&self) -> (u32, u32) {
        (self.beaconer, self.witness)
    }
}

/// Exact integer sums over reports (x = log10(distance) x 1000, y = RSSI in dBm x 10), wide
/// enough that no number of reports overflows them: one edge's, or one witness's over all its
/// edges. Sums of integers do not depend on the order they are added in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Sums {
    n: i128,
    sx: i128,
    sxx: i128,
    sy: i128,
    syy: i128,
    sxy: i128,
    min_x: i32,
    max_x: i32,
}

impl Default for Sums {
    fn default() -> Self {
        Self {
            n: 0,
            sx: 0,
            sxx: 0,
            sy: 0,
            syy: 0,
            sxy: 0,
            min_x: i32::MAX,
            max_x: i32::MIN,
        }
    }
}

impl Sums {
    pub(super) fn add(&mut self, bin: &Bin) {
        // The products in 64 bits where they fit (every real bin: k x x < 2^32 x 9,633^2 < 2^59), in 128
        // otherwise: the same integers, cheaper. `k x` always fits (2^32 x 2^31).
        let (x, k) = (i64::from(bin.x_e3), i64::from(bin.n));
        let kx = k * x;
        let wide = |a: i64, b: i64| {
            a.checked_mul(b)
                .map_or_else(|| i128::from(a) * i128::from(b), i128::from)
        };
        self.n += i128::from(k);
        self.sx += i128::from(kx);
        self.sxx += wide(kx, x);
        self.sy += i128::from(bin.sy);
        self.syy += i128::from(bin.syy);
        self.sxy += wide(x, bin.sy);
        self.min_x = self.min_x.min(bin.x_e3);
        self.max_x = self.max_x.max(bin.x_e3);
    }

    /// The number of reports.
    pub(super) fn count(&self) -> u64 {
        u64::try_from(self.n.max(0)).unwrap_or(u64::MAX)
    }

    /// The smallest and largest distance ([`log_distance_e3`]); meaningless without reports.
    pub(super) fn x_range_e3(&self) -> (i64, i64) {
        (self.min_x.into(), self.max_x.into())
    }

    /// The variance of RSSI (dBm^2), the variance of log10(distance) and their covariance,
    /// each from its exact integer numerator (n^2 times the value, e.g. n Syy - Sy^2) rounded
    /// once: no cancellation, and exactly zero when the value is (the integers overflow only
    /// beyond any real number of reports, where plain floats take over).
    pub(super) fn moments(&self) -> (f64, f64, f64) {
        let n = self.n;
        let centred = |sab: i128, sa: i128, sb: i128| -> f64 {
            match n
                .checked_mul(sab)
                .zip(sa.checked_mul(sb))
                .and_then(|(p, q)| p.checked_sub(q))
            {
                Some(exact) => exact as f64,
                None => n as f64 * sab as f64 - sa as f64 * sb as f64,
            }
        };
        let nn = n as f64 * n as f64;
        (
            centred(self.syy, self.sy, self.sy) / nn / 100.0,
            centred(self.sxx, self.sx, self.sx) / nn / 1e6,
            centred(self.sxy, self.sx, self.sy) / nn / 1e4,
        )
    }

    /// The statistics (no reports: all zero).
    pub(super) fn evidence(&self) -> EdgeEvidence {
        if self.n == 0 {
            return EdgeEvidence::default();
        }
        EdgeEvidence::from_sums(
            self.n,
            self.sx,
            self.sxx,
            self.sy,
            self.syy,
            self.sxy,
            self.min_x.into(),
            self.max_x.into(),
        )
    }
}

/// The number of reports and their mean RSSI (dBm) from the count and the RSSI sum (dBm x 10).
pub(super) fn count_and_mean_rssi(n: u64, sy: i64) -> (u64, f64) {
    (n, sy as f64 / 10.0 / n.max(1) as f64)
}

/// One edge's reports, per distance (a copy out of [`Evidence`], to look at).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EdgeSums {
    /// (distance as [`log_distance_e3`], reports, RSSI sum, squared RSSI sum), sorted by
    /// distance; no empty bin.
    bins: Vec<(i32, u32, i64, i64)>,
}

impl EdgeSums {
    /// The number of reports and their mean RSSI (dBm).
    pub fn count_and_mean_rssi(&self) -> (u64, f64) {
        let n: u64 = self.bins.iter().map(|b| u64::from(b.1)).sum();
        count_and_mean_rssi(n, self.bins.iter().map(|b| b.2).sum())
    }

    /// The edge's statistics, from its integer sums (the same values whatever order the
    /// reports came in).
    pub fn evidence(&self) -> EdgeEvidence {
        let mut sums = Sums::default();
        for &(x_e3, n, sy, syy) in &self.bins {
            sums.add(&Bin {
                x_e3,
                n,
                sy,
                syy,
                ..Bin::default()
            });
        }
        sums.evidence()
    }
}

/// Something to subtract that was never added: the evidence no longer matches the stored
/// reports and must be rebuilt.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0} to subtract from the trust evidence was never added")]
pub struct NotAdded(&'static str);

/// Reports added since the last merge, by (beaconer, witness, distance): (count, RSSI sum,
/// squared RSSI sum).
type Added = HashMap<(u32, u32, i32), (u32, i64, i64)>;

/// Additions kept apart before a merge, at least (the array's length / 4 above it: each merge
/// rewrites the array, so this keeps merging linear in what is added).
const MERGE_AT_LEAST: usize = 1 << 20;

/// Witness reports per edge and beacons per hotspot in a window (see the module docs).
#[derive(Debug, Clone, Default)]
pub struct Evidence {
    pub(super) keys: Vec<PublicKey>,
    ids: HashMap<PublicKey, u32>,
    /// Sorted by [`Bin::key`], unique; bins emptied since the last settle have `n == 0`.
    bins: Vec<Bin>,
    emptied: usize,
    added: Added,
    pub(super) beacons: HashMap<u32, u64>,
}

impl Evidence {
    fn intern(&mut self, key: PublicKey) -> u32 {
        if let Some(id) = self.ids.get(&key) {
            return *id;
        }
        let id = u32::try_from(self.keys.len()).expect("fewer than 2^32 hotspots");
        self.keys.push(key);
        self.ids.insert(key, id);
        id
    }

    /// The interned id of `key`, if it has any evidence (or had).
    pub(super) fn id(&self, key: &PublicKey) -> Option<u32> {
        self.ids.get(key).copied()
    }

    /// Adds reports of `beaconer`'s beacons heard by `witness`.
    pub fn add_reports(&mut self, beaconer: PublicKey, witness: PublicKey, reports: &Reports) {
        if reports.n == 0 {
            return;
        }
        let (beaconer, witness) = (self.intern(beaconer), self.intern(witness));
        self.add_interned(beaconer, witness, reports);
    }

    fn add_interned(&mut self, beaconer: u32, witness: u32, reports: &Reports) {
        let key = (beaconer, witness, reports.x_e3);
        let sums = self.added.entry(key).or_default();
        sums.0 += reports.n;
        sums.1 += reports.sy;
        sums.2 += reports.syy;
        if self.added.len() >= MERGE_AT_LEAST.max(self.bins.len() / 4) {
            self.settle();
        }
    }

    /// Subtracts reports added before; refuses (changing nothing) what was never added. An
    /// edge left without reports is gone.
    pub fn remove_reports(
        &mut self,
        beaconer: &PublicKey,
        witness: &PublicKey,
        reports: &Reports,
    ) -> Result<(), NotAdded> {
        if reports.n == 0 {
            return Ok(());
        }
        let never = NotAdded("a report");
        let key = (
            self.id(beaconer).ok_or(never.clone())?,
            self.id(witness).ok_or(never.clone())?,
            reports.x_e3,
        );
        if !self.added.is_empty() {
            self.settle();
        }
        let i = self
            .bins
            .binary_search_by_key(&key, Bin::key)
            .map_err(|_| never.clone())?;
        let bin = &mut self.bins[i];
        let emptied = bin.n == reports.n;
        if bin.n < reports.n || (emptied && (bin.sy != reports.sy || bin.syy != reports.syy)) {
            return Err(never);
        }
        bin.n -= reports.n;
        bin.sy -= reports.sy;
        bin.syy -= reports.syy;
        if emptied {
            self.emptied += 1;
        }
        Ok(())
    }

    /// Adds one report given in metres and dBm (quantised as the verifier stores reports).
    pub fn add_report(
        &mut self,
        beaconer: PublicKey,
        witness: PublicKey,
        distance_m: f64,
        rssi_dbm: f64,
    ) {
        let reports = Reports::one(
            distance_m.round().clamp(1.0, f64::from(u32::MAX)) as u32,
            (rssi_dbm * 10.0).round() as i32,
        );
        self.add_reports(beaconer, witness, &reports);
    }

    /// Adds `n` beacons of `hotspot` that passed the regular checks.
    pub fn add_beacons(&mut self, hotspot: PublicKey, n: u64) {
        if n > 0 {
            let id = self.intern(hotspot);
            *self.beacons.entry(id).or_default() += n;
        }
    }

    fn add_interned_beacons(&mut self, id: u32, n: u64) {
        if n > 0 {
            *self.beacons.entry(id).or_default() += n;
        }
    }

    /// Subtracts beacons added before.
    pub fn remove_beacons(&mut self, hotspot: &PublicKey, n: u64) -> Result<(), NotAdded> {
        if n == 0 {
            return Ok(());
        }
        let id = self.id(hotspot).ok_or(NotAdded("a beacon"))?;
        let count = self.beacons.get_mut(&id).ok_or(NotAdded("a beacon"))?;
        *count = count.checked_sub(n).ok_or(NotAdded("a beacon"))?;
        if *count == 0 {
            self.beacons.remove(&id);
        }
        Ok(())
    }

    /// Whether every addition is merged into the sorted bins and no emptied bin is left.
    pub fn is_settled(&self) -> bool {
        self.added.is_empty() && self.emptied == 0
    }

    /// Merges the additions into the sorted bins and drops the emptied ones: one pass over the
    /// bins, in place (growing the array by the new bins only).
    pub fn settle(&mut self) {
        if self.is_settled() {
            return;
        }
        let mut fresh: Vec<Bin> = self
            .added
            .drain()
            .map(|((beaconer, witness, x_e3), (n, sy, syy))| Bin {
                beaconer,
                witness,
                x_e3,
                n,
                sy,
                syy,
            })
            .collect();
        if self.added.capacity() > 4 * MERGE_AT_LEAST {
            // A rebuild's additions: give the memory back.
            self.added = Added::default();
        }
        fresh.sort_unstable_by_key(Bin::key);
        // Add to the bins that exist (emptied ones come back), keep the others.
        let (bins, emptied) = (&mut self.bins, &mut self.emptied);
        let mut at = 0;
        fresh.retain(|f| {
            at = gallop(bins, at, f.key());
            match bins.get_mut(at) {
                Some(bin) if bin.key() == f.key() => {
                    if bin.n == 0 {
                        *emptied -= 1;
                    }
                    bin.n += f.n;
                    bin.sy += f.sy;
                    bin.syy += f.syy;
                    false
                }
                _ => true,
            }
        });
        if self.emptied > 0 {
            self.bins.retain(|b| b.n > 0);
            self.emptied = 0;
        }
        // Merge the new bins in from the back, each bin moved once.
        let (old, new) = (self.bins.len(), fresh.len());
        self.bins.reserve_exact(new);
        self.bins.resize(old + new, Bin::default());
        let (mut i, mut j) = (old, new);
        while j > 0 {
            let to = i + j - 1;
            if i > 0 && self.bins[i - 1].key() > fresh[j - 1].key() {
                self.bins[to] = self.bins[i - 1];
                i -= 1;
            } else {
                self.bins[to] = fresh[j - 1];
                j -= 1;
            }
        }
    }

    /// The settled bins, sorted by (beaconer, witness, distance); `None` when not settled.
    pub(super) fn settled_bins(&self) -> Option<&[Bin]> {
        self.is_settled().then_some(self.bins.as_slice())
    }

    /// Whether `beaconer` -> `witness` has reports (settled evidence).
    pub(super) fn has_edge(bins: &[Bin], beaconer: u32, witness: u32) -> bool {
        let i = bins.partition_point(|b| b.edge() < (beaconer, witness));
        bins.get(i).is_some_and(|b| b.edge() == (beaconer, witness))
    }

    /// Every bin with reports, settled or not, in key order.
    fn all_bins(&self) -> Vec<Bin> {
        let mut copy = self.clone();
        copy.settle();
        copy.bins
    }

    /// Number of edges with reports.
    pub fn edge_count(&self) -> usize {
        let count = |bins: &[Bin]| bins.chunk_by(|a, b| a.edge() == b.edge()).count();
        match self.settled_bins() {
            Some(bins) => count(bins),
            None => count(&self.all_bins()),
        }
    }

    /// The reports of one edge.
    pub fn edge(&self, beaconer: &PublicKey, witness: &PublicKey) -> Option<EdgeSums> {
        let edge = (self.id(beaconer)?, self.id(witness)?);
        let bins: Vec<_> = self
            .all_bins()
            .into_iter()
            .filter(|b| b.edge() == edge)
            .map(|b| (b.x_e3, b.n, b.sy, b.syy))
            .collect();
        (!bins.is_empty()).then_some(EdgeSums { bins })
    }

    /// Everything, by key: what two evidences with the same reports have in common whatever
    /// order the reports came in.
    #[allow(clippy::type_complexity)]
    pub fn by_key(
        &self,
    ) -> (
        BTreeMap<(PublicKey, PublicKey), EdgeSums>,
        BTreeMap<PublicKey, u64>,
    ) {
        let key = |id: u32| self.keys[id as usize];
        let mut edges: BTreeMap<(PublicKey, PublicKey), EdgeSums> = BTreeMap::new();
        for b in self.all_bins() {
            edges
                .entry((key(b.beaconer), key(b.witness)))
                .or_default()
                .bins
                .push((b.x_e3, b.n, b.sy, b.syy));
        }
        (
            edges,
            self.beacons.iter().map(|(h, n)| (key(*h), *n)).collect(),
        )
    }
}

/// The first index at or after `from` whose bin's key is not below `key` (`bins` sorted and
/// every bin before `from` below `key`): a galloping search, cheap when the answer is near.
fn gallop(bins: &[Bin], from: usize, key: (u32, u32, i32)) -> usize {
    let (mut lo, mut hi, mut step) = (from, from, 1);
    while hi < bins.len() && bins[hi].key() < key {
        lo = hi + 1;
        hi = from + step;
        step *= 2;
    }
    let hi = hi.min(bins.len());
    lo + bins[lo..hi].partition_point(|b| b.key() < key)
}

impl PartialEq for Evidence {
    fn eq(&self, other: &Self) -> bool {
        self.by_key() == other.by_key()
    }
}

/// What a refresh must read to bring a [`Window`] to a new range of receive time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Read the whole range afresh (the first refresh, or the range moved back or jumped).
    Rebuild(Range<u64>),
    /// Subtract the reports received in `leaving`, add those received in `entering`: from the
    /// database those in `entering_stored` (received there and stored before the last step
    /// ended), then the rest from memory ([`Window::add_ahead`]).
    Slide {
        leaving: Range<u64>,
        entering: Range<u64>,
        entering_stored: Range<u64>,
    },
}

/// A report stored since the last step with a receive time at or after the window's end:
/// receive time, beaconer, and for a witness report the witness and its reports (`None` for a
/// beacon), keys interned.
type Ahead = (u64, u32, Option<(u32, Reports)>);

/// The trust evidence of a range of receive time, kept up to date between refreshes.
///
/// The invariant: when `covers` is `Some(range)`, the evidence holds exactly the stored reports
/// received in `range`. It holds because every report is either stored before the refresh that
/// brings its receive time into the range (then that refresh reads it), or stored later (then
/// [`Window::stored_report`] adds it), and never both: the verifier calls them in turn on one
/// task. Anything that could break it ([`Window::invalidate`], an error half way through a
/// step) makes the next refresh rebuild.
///
/// Reports stored after a step with receive times at or after the window's end are kept in
/// memory (`ahead`), so the next slide reads from the database only those entering reports
/// that were stored before the step ended: every one of them was received before
/// `stored_before`, the bound [`Window::finish`] is given (the reports received later were all
/// stored after the step, so `ahead` holds them). At Helium's peak that is a few minutes of
/// reports instead of the 30 that enter at each refresh.
#[derive(Debug, Clone, Default)]
pub struct Window {
    evidence: Evidence,
    covers: Option<Range<u64>>,
    /// Every report stored received at or after it was stored since the last step ended.
    stored_before: u64,
    ahead: Vec<Ahead>,
}

impl Window {
    /// What to read to cover `range` next.
    pub fn step(&self, range: Range<u64>) -> Step {
        match &self.covers {
            Some(c) if range.start >= c.start && range.start <= c.end && range.end >= c.end => {
                let stored = self.stored_before.clamp(c.end, range.end);
                Step::Slide {
                    leaving: c.start..range.start,
                    entering: c.end..range.end,
                    entering_stored: c.end..stored,
                }
            }
            _ => Step::Rebuild(range),
        }
    }

    /// Starts `step`: the evidence to change (emptied for a rebuild). Until
    /// [`Window::finish`] it covers nothing.
    pub fn begin(&mut self, step: &Step) -> &mut Evidence {
        if let Step::Rebuild(_) = step {
            self.evidence = Evidence::default();
            self.ahead.clear();
        }
        self.covers = None;
        &mut self.evidence
    }

    /// Adds the reports of a slide's `entering` range kept in memory (those received at or
    /// after the end of its `entering_stored`, which the database gave); call it between
    /// [`Window::begin`] and [`Window::finish`] of that slide.
    pub fn add_ahead(&mut self, step: &Step) {
        let Step::Slide {
            entering,
            entering_stored,
            ..
        } = step
        else {
            return;
        };
        let from_memory = entering_stored.end..entering.end;
        for (received_ms, beaconer, witness) in &self.ahead {
            if !from_memory.contains(received_ms) {
                continue;
            }
            match witness {
                Some((witness, reports)) => {
                    self.evidence.add_interned(*beaconer, *witness, reports)
                }
                None => self.evidence.add_interned_beacons(*beaconer, 1),
            }
        }
    }

    /// Ends a step: the evidence now covers `range`, settled for [`super::evaluate`], and every
    /// report stored so far that was received at or after `range.end` was received before
    /// `stored_before` (read from the database at the next slide).
    pub fn finish(&mut self, range: Range<u64>, stored_before: u64) {
        self.evidence.settle();
        self.ahead.clear();
        self.ahead.shrink_to(1 << 16);
        self.stored_before = stored_before.max(range.end);
        self.covers = Some(range);
    }

    /// Reports may have been stored without being counted: the next refresh rebuilds.
    pub fn invalidate(&mut self) {
        self.covers = None;
        self.ahead = Vec::new();
    }

    /// The range covered, if the evidence is valid.
    pub fn covers(&self) -> Option<&Range<u64>> {
        self.covers.as_ref()
    }

    /// The evidence.
    pub fn evidence(&self) -> &Evidence {
        &self.evidence
    }

    /// A witness report just stored: counted when received inside the range covered, kept
    /// for the next slide when received after it (one received before it never counts).
    pub fn stored_report(
        &mut self,
        received_ms: u64,
        beaconer: PublicKey,
        witness: PublicKey,
        reports: &Reports,
    ) {
        match &self.covers {
            Some(c) if c.contains(&received_ms) => {
                self.evidence.add_reports(beaconer, witness, reports);
            }
            Some(c) if received_ms >= c.end && reports.n > 0 => {
                let (b, w) = (
                    self.evidence.intern(beaconer),
                    self.evidence.intern(witness),
                );
                self.ahead.push((received_ms, b, Some((w, *reports))));
            }
            _ => {}
        }
    }

    /// A beacon that passed the regular checks, just stored (as [`Window::stored_report`]).
    pub fn stored_beacon(&mut self, received_ms: u64, beaconer: PublicKey) {
        match &self.covers {
            Some(c) if c.contains(&received_ms) => self.evidence.add_beacons(beaconer, 1),
            Some(c) if received_ms >= c.end => {
                let b = self.evidence.intern(beaconer);
                self.ahead.push((received_ms, b, None));
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    fn key(n: u8) -> PublicKey {
        PublicKey::from_bytes([n; 32])
    }

    #[test]
    fn subtracting_restores_the_sums_and_the_distance_range_exactly() {
        let near = Reports::one(1_000, -900);
        let far = Reports::one(10_000, -1_200);
        let mut only_near = Evidence::default();
        only_near.add_reports(key(1), key(2), &near);
        only_near.add_reports(key(1), key(2), &near);
        let mut both = only_near.clone();
        both.add_reports(key(1), key(2), &far);
        let e = both.edge(&key(1), &key(2)).expect("edge").evidence();
        assert_eq!((e.count, e.min_x, e.max_x), (3, 3.0, 4.0));
        assert_eq!(e.sum_xy, 2.0 * 3.0 * -90.0 + 4.0 * -120.0);

        both.remove_reports(&key(1), &key(2), &far).expect("added");
        assert_eq!(both, only_near);
        let e = both.edge(&key(1), &key(2)).expect("edge").evidence();
        assert_eq!((e.count, e.min_x, e.max_x), (2, 3.0, 3.0));

        both.remove_reports(&key(1), &key(2), &near).expect("added");
        both.remove_reports(&key(1), &key(2), &near).expect("added");
        assert_eq!(both.edge_count(), 0);
        assert_eq!(both, Evidence::default());
    }

    #[test]
    fn what_was_never_added_is_refused_and_changes_nothing() {
        let mut ev = Evidence::default();
        ev.add_reports(key(1), key(2), &Reports::one(1_000, -900));
        ev.add_beacons(key(1), 2);
        let before = ev.clone();
        assert!(
            ev.remove_reports(&key(2), &key(1), &Reports::one(1_000, -900))
                .is_err()
        );
        assert!(
            ev.remove_reports(&key(1), &key(2), &Reports::one(2_000, -900))
                .is_err()
        );
        assert!(
            ev.remove_reports(&key(1), &key(2), &Reports::one(1_000, -800))
                .is_err()
        );
        let mut two = Reports::one(1_000, -900);
        two.n = 2;
        assert!(ev.remove_reports(&key(1), &key(2), &two).is_err());
        assert!(ev.remove_beacons(&key(1), 3).is_err());
        assert!(ev.remove_beacons(&key(3), 1).is_err());
        assert_eq!(ev, before);
    }

    #[test]
    fn the_short_mean_rssi_is_the_same_bits_as_the_full_statistics() {
        let mut rng = ChaCha8Rng::seed_from_u64(11);
        for _ in 0..500 {
            let mut ev = Evidence::default();
            for _ in 0..rng.random_range(1..20) {
                let r = Reports::one(rng.random_range(5..200_000), rng.random_range(-1_400..-300));
                ev.add_reports(key(1), key(2), &r);
            }
            let sums = ev.edge(&key(1), &key(2)).expect("edge");
            let e = sums.evidence();
            let (count, mean) = sums.count_and_mean_rssi();
            assert_eq!(count, e.count);
            assert_eq!(mean.to_bits(), (e.sum_y / e.count.max(1) as f64).to_bits());
        }
        let (count, mean) = EdgeSums::default().count_and_mean_rssi();
        assert_eq!((count, mean.to_bits()), (0, 0f64.to_bits()));
    }

    /// Additions merged into the sorted bins at any moment (between removals, with bins
    /// emptied and coming back) against a plain map of the same reports.
    #[test]
    fn settling_keeps_exactly_the_reports_added_and_not_removed() {
        let mut rng = ChaCha8Rng::seed_from_u64(29);
        let mut ev = Evidence::default();
        let mut model: BTreeMap<(u8, u8, i32), (u32, i64, i64)> = BTreeMap::new();
        let mut added: Vec<(u8, u8, Reports)> = Vec::new();
        let (mut settles, mut revived) = (0, 0);
        for step in 0..6_000 {
            match rng.random_range(0..10) {
                0..=5 => {
                    let (b, w) = (rng.random_range(0..9u8), rng.random_range(0..9u8));
                    let r = Reports::one(
                        [700, 2_000, 9_000][rng.random_range(0..3)],
                        rng.random_range(-1_300..-600),
                    );
                    let entry = model.entry((b, w, r.x_e3)).or_default();
                    revived += usize::from(entry.0 == 0 && ev.edge(&key(b), &key(w)).is_none());
                    entry.0 += 1;
                    entry.1 += r.sy;
                    entry.2 += r.syy;
                    ev.add_reports(key(b), key(w), &r);
                    added.push((b, w, r));
                }
                6..=8 if !added.is_empty() => {
                    let (b, w, r) = added.swap_remove(rng.random_range(0..added.len()));
                    ev.remove_reports(&key(b), &key(w), &r).expect("added");
                    let entry = model.get_mut(&(b, w, r.x_e3)).expect("in the model");
                    entry.0 -= 1;
                    entry.1 -= r.sy;
                    entry.2 -= r.syy;
                    if entry.0 == 0 {
                        model.remove(&(b, w, r.x_e3));
                    }
                }
                _ => {
                    ev.settle();
                    settles += 1;
                    assert!(ev.is_settled());
                }
            }
            if step % 50 == 0 {
                // In id order; the model is in key order.
                let mut bins: Vec<_> = ev
                    .all_bins()
                    .iter()
                    .map(|b| {
                        let k = |id: u32| ev.keys[id as usize].as_bytes()[0];
                        ((k(b.beaconer), k(b.witness), b.x_e3), (b.n, b.sy, b.syy))
                    })
                    .collect();
                bins.sort_unstable();
                let expected: Vec<_> = model.iter().map(|(k, v)| (*k, *v)).collect();
                assert_eq!(bins, expected, "step {step}");
            }
        }
        ev.settle();
        let bins = ev.settled_bins().expect("settled");
        assert!(bins.windows(2).all(|p| p[0].key() < p[1].key()));
        assert!(bins.iter().all(|b| b.n > 0));
        for b in 0..9u8 {
            for w in 0..9u8 {
                let present = model
                    .range((b, w, i32::MIN)..=(b, w, i32::MAX))
                    .next()
                    .is_some();
                let ids = (ev.id(&key(b)), ev.id(&key(w)));
                let found = match ids {
                    (Some(b), Some(w)) => Evidence::has_edge(bins, b, w),
                    _ => false,
                };
                assert_eq!(found, present, "edge {b} -> {w}");
            }
        }
        assert!(settles > 300 && revived > 0, "{settles} {revived}");
    }

    fn add(sums: &mut Sums, r: &Reports) {
        sums.add(&Bin {
            x_e3: r.x_e3,
            n: r.n,
            sy: r.sy,
            syy: r.syy,
            ..Bin::default()
        });
    }

    /// The sums of 64-bit products where they fit are the 128-bit sums, at the extremes too.
    #[test]
    fn sums_are_exact_for_any_bin() {
        let extremes = |lo: i64, hi: i64| [lo, lo + 1, -1, 0, 1, hi - 1, hi];
        let mut sums = Sums::default();
        let mut want = [0i128; 6];
        for x_e3 in extremes(i32::MIN.into(), i32::MAX.into()) {
            for n in [0, 1, 2, u32::MAX - 1, u32::MAX] {
                for sy in extremes(i64::MIN / 4, i64::MAX / 4) {
                    let bin = Bin {
                        x_e3: x_e3 as i32,
                        n,
                        sy,
                        syy: sy / 3,
                        ..Bin::default()
                    };
                    sums.add(&bin);
                    let (x, k, y) = (i128::from(x_e3), i128::from(n), i128::from(sy));
                    let terms = [k, k * x, k * x * x, y, i128::from(sy / 3), x * y];
                    for (total, term) in want.iter_mut().zip(terms) {
                        *total += term;
                    }
                }
            }
        }
        let got = [sums.n, sums.sx, sums.sxx, sums.sy, sums.syy, sums.sxy];
        assert_eq!(got, want);
        assert_eq!(sums.x_range_e3(), (i32::MIN.into(), i32::MAX.into()));
    }

    /// The moments from exact integer numerators against a two-pass computation over the
    /// reports themselves, and exactly zero where the data make them zero.
    #[test]
    fn moments_are_the_two_pass_values_and_exact_zeros_stay_zero() {
        let mut rng = ChaCha8Rng::seed_from_u64(41);
        for _ in 0..300 {
            let mut sums = Sums::default();
            let mut points = Vec::new();
            for _ in 0..rng.random_range(2..60) {
                let r = Reports::one(rng.random_range(5..200_000), rng.random_range(-1_400..-300));
                points.push((f64::from(r.x_e3) / 1e3, r.sy as f64 / 10.0));
                add(&mut sums, &r);
            }
            let n = points.len() as f64;
            let (mx, my) = (
                points.iter().map(|p| p.0).sum::<f64>() / n,
                points.iter().map(|p| p.1).sum::<f64>() / n,
            );
            let var_y = points.iter().map(|p| (p.1 - my).powi(2)).sum::<f64>() / n;
            let var_x = points.iter().map(|p| (p.0 - mx).powi(2)).sum::<f64>() / n;
            let cov = points.iter().map(|p| (p.0 - mx) * (p.1 - my)).sum::<f64>() / n;
            let (vy, vx, c) = sums.moments();
            let close = |a: f64, b: f64, scale: f64| (a - b).abs() <= 1e-9 * scale;
            assert!(close(vy, var_y, var_y), "{vy} {var_y}");
            assert!(close(vx, var_x, var_x), "{vx} {var_x}");
            assert!(close(c, cov, (var_x * var_y).sqrt()), "{c} {cov}");
            assert_eq!(sums.count(), points.len() as u64);
        }
        // RSSI that does not change with distance: a covariance of exactly zero.
        let mut sums = Sums::default();
        for (distance_m, ddbm) in [
            (1_000, -900),
            (1_000, -1_100),
            (10_000, -900),
            (10_000, -1_100),
        ] {
            add(&mut sums, &Reports::one(distance_m, ddbm));
        }
        let (var_y, var_x, cov) = sums.moments();
        assert_eq!((var_y, var_x, cov), (100.0, 0.25, 0.0));
        assert_eq!(sums.x_range_e3(), (3_000, 4_000));
    }

    /// A stored row: receive time, beaconer, witness, reports (beacon rows have no witness).
    type Row = (u64, u8, Option<u8>, Reports);

    fn read(rows: &[Row], range: &Range<u64>, ev: &mut Evidence, subtract: bool) {
        for (_, b, w, r) in rows.iter().filter(|row| range.contains(&row.0)) {
            match (w, subtract) {
                (Some(w), false) => ev.add_reports(key(*b), key(*w), r),
                (Some(w), true) => ev.remove_reports(&key(*b), &key(*w), r).expect("added"),
                (None, false) => ev.add_beacons(key(*b), 1),
                (None, true) => ev.remove_beacons(&key(*b), 1).expect("added"),
            }
        }
    }

    /// The window against reading everything afresh at each refresh, with reports stored late
    /// (behind the window's end), early (after it), the window sliding, jumping and going back.
    #[test]
    fn a_sliding_window_equals_reading_its_range_afresh() {
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let mut stored: Vec<Row> = Vec::new();
        let mut window = Window::default();
        let (mut slides, mut rebuilds, mut late, mut from_memory) = (0, 0, 0, 0);
        let mut end = 10_000u64;
        for _ in 0..400 {
            // Some reports are stored: most around the window's end (some rounds reaching far
            // past it, so the next slide reads them from the "database"; others barely, so it
            // takes them from memory), some far behind it.
            let ahead = [1, 300, 2_000][rng.random_range(0..3)];
            for _ in 0..rng.random_range(0..30) {
                let ms = if rng.random_bool(0.2) {
                    rng.random_range(0..end + 1)
                } else {
                    rng.random_range(end.saturating_sub(2_000)..end + ahead)
                };
                let (b, w) = (rng.random_range(0..12u8), rng.random_range(0..12u8));
                let reports = Reports::one(
                    [800, 2_500, 7_000][rng.random_range(0..3)],
                    rng.random_range(-1_300..-600),
                );
                let row = if rng.random_bool(0.2) {
                    (ms, b, None, reports)
                } else {
                    (ms, b, Some(w), reports)
                };
                if window.covers().is_some_and(|c| c.contains(&ms)) {
                    late += 1;
                }
                match row.2 {
                    Some(w) => window.stored_report(ms, key(b), key(w), &reports),
                    None => window.stored_beacon(ms, key(b)),
                }
                stored.push(row);
            }
            // A refresh: usually one step on, sometimes a jump or a step back.
            end = match rng.random_range(0..20) {
                0 => end.saturating_sub(3_000),
                1 => end + 50_000,
                _ => end + 1_000,
            };
            let range = end.saturating_sub(6_000)..end;
            let step = window.step(range.clone());
            let ev = window.begin(&step);
            match &step {
                Step::Rebuild(r) => {
                    rebuilds += 1;
                    read(&stored, r, ev, false);
                }
                Step::Slide {
                    leaving,
                    entering_stored,
                    entering,
                } => {
                    slides += 1;
                    from_memory += usize::from(entering_stored.end < entering.end);
                    read(&stored, leaving, ev, true);
                    read(&stored, entering_stored, ev, false);
                    window.add_ahead(&step);
                }
            }
            // What the database gives the verifier: a bound on what was stored ahead.
            let stored_before = stored
                .iter()
                .map(|row| row.0 + 1)
                .filter(|ms| *ms > range.end)
                .max()
                .unwrap_or(range.end);
            window.finish(range.clone(), stored_before);
            let mut afresh = Evidence::default();
            read(&stored, &range, &mut afresh, false);
            assert_eq!(window.evidence(), &afresh, "window {range:?}");
        }
        assert!(
            slides > 300 && rebuilds > 10 && late > 100 && from_memory > 200,
            "{slides} {rebuilds} {late} {from_memory}"
        );
    }

    #[test]
    fn steps_slide_forward_and_rebuild_otherwise() {
        let mut w = Window::default();
        assert_eq!(w.step(0..10), Step::Rebuild(0..10));
        w.finish(0..10, 13);
        assert_eq!(
            w.step(5..20),
            Step::Slide {
                leaving: 0..5,
                entering: 10..20,
                entering_stored: 10..13,
            }
        );
        assert_eq!(
            w.step(5..12),
            Step::Slide {
                leaving: 0..5,
                entering: 10..12,
                entering_stored: 10..12,
            }
        );
        assert_eq!(w.step(12..20), Step::Rebuild(12..20));
        assert_eq!(w.step(0..9), Step::Rebuild(0..9));
        w.invalidate();
        assert_eq!(w.step(5..20), Step::Rebuild(5..20));
    }
}
