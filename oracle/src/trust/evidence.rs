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
//! `u32`; an edge costs about 40 bytes.

use super::EdgeEvidence;
use schemas::PublicKey;
use smallvec::SmallVec;
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

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Bin {
    x_e3: i32,
    n: u32,
    sy: i64,
}

/// One edge's reports: per distance, and the sum of squared RSSI.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EdgeSums {
    syy: i64,
    /// Sorted by distance; no empty bin.
    bins: SmallVec<[Bin; 1]>,
}

impl EdgeSums {
    fn add(&mut self, r: &Reports) {
        self.syy += r.syy;
        match self.bins.binary_search_by_key(&r.x_e3, |b| b.x_e3) {
            Ok(i) => {
                self.bins[i].n += r.n;
                self.bins[i].sy += r.sy;
            }
            Err(i) => self.bins.insert(
                i,
                Bin {
                    x_e3: r.x_e3,
                    n: r.n,
                    sy: r.sy,
                },
            ),
        }
    }

    /// Subtracts reports added before; refuses (changing nothing) what was never added.
    fn remove(&mut self, r: &Reports) -> Result<(), ()> {
        let i = self
            .bins
            .binary_search_by_key(&r.x_e3, |b| b.x_e3)
            .map_err(|_| ())?;
        let bin = self.bins[i];
        let emptied = bin.n == r.n;
        let last = emptied && self.bins.len() == 1;
        if bin.n < r.n || (emptied && bin.sy != r.sy) || (last && self.syy != r.syy) {
            return Err(());
        }
        self.syy -= r.syy;
        if emptied {
            self.bins.remove(i);
        } else {
            self.bins[i].n -= r.n;
            self.bins[i].sy -= r.sy;
        }
        Ok(())
    }

    /// The number of reports and their mean RSSI (dBm), the same bits as computed from
    /// [`Self::evidence`] (`sum_y / count`), without the other sums.
    pub fn count_and_mean_rssi(&self) -> (u64, f64) {
        let (mut n, mut sy) = (0i64, 0i64);
        for b in &self.bins {
            n += i64::from(b.n);
            sy += b.sy;
        }
        let count = n.max(0) as u64;
        let sum_y = sy as f64 / 10.0;
        (count, sum_y / count.max(1) as f64)
    }

    /// The edge's statistics, from its integer sums (the same values whatever order the
    /// reports came in).
    pub fn evidence(&self) -> EdgeEvidence {
        let (mut n, mut sx, mut sxx, mut sy, mut sxy) = (0i64, 0i64, 0i64, 0i64, 0i64);
        for b in &self.bins {
            let (x, k) = (i64::from(b.x_e3), i64::from(b.n));
            n += k;
            sx += k * x;
            sxx += k * x * x;
            sy += b.sy;
            sxy += x * b.sy;
        }
        let min = self.bins.first().map_or(0, |b| i64::from(b.x_e3));
        let max = self.bins.last().map_or(0, |b| i64::from(b.x_e3));
        EdgeEvidence::from_sums(n, sx, sxx, sy, self.syy, sxy, min, max)
    }
}

/// Something to subtract that was never added: the evidence no longer matches the stored
/// reports and must be rebuilt.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0} to subtract from the trust evidence was never added")]
pub struct NotAdded(&'static str);

/// Witness reports per edge and beacons per hotspot in a window (see the module docs).
#[derive(Debug, Clone, Default)]
pub struct Evidence {
    pub(super) keys: Vec<PublicKey>,
    ids: HashMap<PublicKey, u32>,
    pub(super) edges: HashMap<(u32, u32), EdgeSums>,
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
        let edge = (self.intern(beaconer), self.intern(witness));
        self.edges.entry(edge).or_default().add(reports);
    }

    /// Subtracts reports added before; an edge left without reports is gone.
    pub fn remove_reports(
        &mut self,
        beaconer: &PublicKey,
        witness: &PublicKey,
        reports: &Reports,
    ) -> Result<(), NotAdded> {
        if reports.n == 0 {
            return Ok(());
        }
        let edge = (
            self.id(beaconer).ok_or(NotAdded("a report"))?,
            self.id(witness).ok_or(NotAdded("a report"))?,
        );
        let sums = self.edges.get_mut(&edge).ok_or(NotAdded("a report"))?;
        sums.remove(reports).map_err(|()| NotAdded("a report"))?;
        if sums.bins.is_empty() {
            self.edges.remove(&edge);
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

    /// Number of edges with reports.
    pub fn edge_count(&self) -> usize {
        self.edges.len()
    }

    /// The reports of one edge.
    pub fn edge(&self, beaconer: &PublicKey, witness: &PublicKey) -> Option<&EdgeSums> {
        self.edges.get(&(self.id(beaconer)?, self.id(witness)?))
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
        (
            self.edges
                .iter()
                .map(|((b, w), s)| ((key(*b), key(*w)), s.clone()))
                .collect(),
            self.beacons.iter().map(|(h, n)| (key(*h), *n)).collect(),
        )
    }
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
    /// Subtract the reports received in `leaving`, add those received in `entering`.
    Slide {
        leaving: Range<u64>,
        entering: Range<u64>,
    },
}

/// The trust evidence of a range of receive time, kept up to date between refreshes.
///
/// The invariant: when `covers` is `Some(range)`, the evidence holds exactly the stored reports
/// received in `range`. It holds because every report is either stored before the refresh that
/// brings its receive time into the range (then that refresh reads it), or stored later (then
/// [`Window::stored_report`] adds it), and never both: the verifier calls them in turn on one
/// task. Anything that could break it ([`Window::invalidate`], an error half way through a
/// step) makes the next refresh rebuild.
#[derive(Debug, Clone, Default)]
pub struct Window {
    evidence: Evidence,
    covers: Option<Range<u64>>,
}

impl Window {
    /// What to read to cover `range` next.
    pub fn step(&self, range: Range<u64>) -> Step {
        match &self.covers {
            Some(c) if range.start >= c.start && range.start <= c.end && range.end >= c.end => {
                Step::Slide {
                    leaving: c.start..range.start,
                    entering: c.end..range.end,
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
        }
        self.covers = None;
        &mut self.evidence
    }

    /// Ends a step: the evidence now covers `range`.
    pub fn finish(&mut self, range: Range<u64>) {
        self.covers = Some(range);
    }

    /// Reports may have been stored without being counted: the next refresh rebuilds.
    pub fn invalidate(&mut self) {
        self.covers = None;
    }

    /// The range covered, if the evidence is valid.
    pub fn covers(&self) -> Option<&Range<u64>> {
        self.covers.as_ref()
    }

    /// The evidence.
    pub fn evidence(&self) -> &Evidence {
        &self.evidence
    }

    /// A witness report just stored: counted when received inside the range covered (a
    /// later refresh reads one received after it; one received before it never counts).
    pub fn stored_report(
        &mut self,
        received_ms: u64,
        beaconer: PublicKey,
        witness: PublicKey,
        reports: &Reports,
    ) {
        if self
            .covers
            .as_ref()
            .is_some_and(|c| c.contains(&received_ms))
        {
            self.evidence.add_reports(beaconer, witness, reports);
        }
    }

    /// A beacon that passed the regular checks, just stored (as [`Window::stored_report`]).
    pub fn stored_beacon(&mut self, received_ms: u64, beaconer: PublicKey) {
        if self
            .covers
            .as_ref()
            .is_some_and(|c| c.contains(&received_ms))
        {
            self.evidence.add_beacons(beaconer, 1);
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
            let mut sums = EdgeSums::default();
            for _ in 0..rng.random_range(1..20) {
                let r = Reports::one(rng.random_range(5..200_000), rng.random_range(-1_400..-300));
                sums.add(&r);
            }
            let e = sums.evidence();
            let (count, mean) = sums.count_and_mean_rssi();
            assert_eq!(count, e.count);
            assert_eq!(mean.to_bits(), (e.sum_y / e.count.max(1) as f64).to_bits());
        }
        let (count, mean) = EdgeSums::default().count_and_mean_rssi();
        assert_eq!((count, mean.to_bits()), (0, 0f64.to_bits()));
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
        let (mut slides, mut rebuilds, mut late) = (0, 0, 0);
        let mut end = 10_000u64;
        for _ in 0..400 {
            // Some reports are stored: most around the window's end, some far behind it.
            for _ in 0..rng.random_range(0..30) {
                let ms = if rng.random_bool(0.2) {
                    rng.random_range(0..end + 1)
                } else {
                    rng.random_range(end.saturating_sub(2_000)..end + 2_000)
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
                Step::Slide { leaving, entering } => {
                    slides += 1;
                    read(&stored, leaving, ev, true);
                    read(&stored, entering, ev, false);
                }
            }
            window.finish(range.clone());
            let mut afresh = Evidence::default();
            read(&stored, &range, &mut afresh, false);
            assert_eq!(window.evidence(), &afresh, "window {range:?}");
        }
        assert!(
            slides > 300 && rebuilds > 10 && late > 100,
            "{slides} {rebuilds} {late}"
        );
    }

    #[test]
    fn steps_slide_forward_and_rebuild_otherwise() {
        let mut w = Window::default();
        assert_eq!(w.step(0..10), Step::Rebuild(0..10));
        w.finish(0..10);
        assert_eq!(
            w.step(5..20),
            Step::Slide {
                leaving: 0..5,
                entering: 10..20
            }
        );
        assert_eq!(w.step(12..20), Step::Rebuild(12..20));
        assert_eq!(w.step(0..9), Step::Rebuild(0..9));
        w.invalidate();
        assert_eq!(w.step(5..20), Step::Rebuild(5..20));
    }
}
