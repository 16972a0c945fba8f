//! A synthetic Helium-peak day, generated deterministically from a seed.
//!
//! Hotspots are placed around real hotspot positions (`shared/data/hotspots/*.csv`): a share of
//! them in dense clusters (a few hundred metres across) and the rest spread over a disc around
//! the same anchors, so the network has both crowded hexes (HIP 17 scaling bites) and sparse
//! ones. Every hotspot beacons once per 6-hour segment with real oracle entropy (derived exactly
//! as an agent derives it); nearby hotspots hear it through the simulator's radio model
//! (log-distance path loss with per-link and per-packet shadowing, noise floor, SF demodulation
//! floors, time of flight and GPS timestamp error), so RSSI, SNR, frequency, data rate and fine
//! timestamps are physically consistent. Every report is signed by its hotspot's key.
//!
//! Generation is pure: the same [`DayConfig`] gives the same bytes on any machine, whichever
//! thread generates which chunk ([`Network::chunk`] depends only on the beacons it is given).
//!
//! [`Network::beacons_in_time_order`] lists the day's beacons by transmit time, so that a loader
//! can store the reports in the order an oracle receives them: an oracle appends what arrives,
//! so its report tables hold a day in receive-time order, and reading a window of receive time
//! reads neighbouring pages.

use h3o::{CellIndex, LatLng, Resolution};
use oracle::store::{HotspotRecord, NewReport, ReportKind};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use schemas::beacon::{LOCAL_ENTROPY_SIZE, RemoteEntropy, derive};
use schemas::proto::{BeaconReport, Entropy, LocationAssertion, WitnessReport};
use schemas::region::{ChannelPlan, channel_plan, region_of};
use schemas::sign::SingleSigned;
use schemas::{Keypair, PublicKey, message_id};
use sha2::{Digest, Sha256};
use simulator::radio_model::{Link, RadioParams, haversine_m, link_shadowing_db};
use std::collections::HashMap;
use std::path::Path;

/// Hotspots of a full-size (scale 1) day: Helium's peak.
pub const FULL_HOTSPOTS: u64 = 1_000_000;
/// Beacons per hotspot per day (one per 6-hour segment, Helium's `beacon_interval`).
pub const BEACONS_PER_DAY: u64 = 4;
/// Length of a beacon segment, ms.
pub const SEGMENT_MS: u64 = 6 * 3600 * 1000;
/// Entropy tick of the oracle, ms (its default `entropy.tick`).
pub const ENTROPY_TICK_MS: u64 = 60_000;
/// The simulated day starts at 2026-01-01T00:00:00Z (UTC-aligned, like epochs and segments).
pub const DAY_START_MS: u64 = 1_767_225_600_000;
/// One day, ms.
pub const DAY_MS: u64 = 24 * 3600 * 1000;
/// Hotspots per real anchor position (sets how crowded the neighbourhoods are, and keeps it the
/// same at every scale).
const HOTSPOTS_PER_ANCHOR: u64 = 200;
/// Share of hotspots placed in a dense cluster around their anchor.
const CLUSTER_SHARE: f64 = 0.3;
/// Standard deviation of a clustered hotspot's offset from its anchor, m.
const CLUSTER_SIGMA_M: f64 = 250.0;
/// Radius of the disc over which the other hotspots are spread, m.
const SPREAD_RADIUS_M: f64 = 9_000.0;
/// Grid cell of the neighbour index, degrees (about 11 km of latitude).
const GRID_DEG: f64 = 0.1;
/// Neighbours tried per beacon (a random sample of the 3 x 3 grid cells around the beaconer).
const CANDIDATES_PER_BEACON: usize = 40;
/// Most witness reports per beacon; each beacon draws its own cap uniformly in `0..=` this, so
/// a beacon has about 10 witnesses on average where enough neighbours hear it (Helium's peak:
/// about 40 M witness reports for 4 M beacons).
const MAX_WITNESSES_PER_BEACON: u64 = 20;
/// Share of hotspots whose concentrator reports GPS fine timestamps.
const GPS_SHARE: f64 = 0.6;
/// Antenna gains seen on real hotspots, dBi x 10.
const GAINS_DDBI: [i32; 6] = [12, 23, 30, 40, 58, 80];

/// What to generate.
#[derive(Debug, Clone, PartialEq)]
pub struct DayConfig {
    /// Share of Helium's peak: 1.0 is 1 M hotspots and 4 M beacons.
    pub scale: f64,
    /// Every key and random draw derives from it.
    pub seed: u64,
}

/// Errors building a network.
#[derive(Debug, thiserror::Error)]
pub enum DayError {
    #[error("cannot read hotspot positions from {path}: {reason}")]
    Positions { path: String, reason: String },
    #[error("no usable hotspot positions (inside a region) in {0}")]
    NoPositions(String),
    #[error("scale {0} must be in (0, 1]")]
    Scale(f64),
}

/// One generated hotspot.
#[derive(Debug, Clone)]
pub struct Hotspot {
    pub keypair: Keypair,
    pub key: PublicKey,
    pub owner: usize,
    pub cell: CellIndex,
    pub lat: f64,
    pub lng: f64,
    pub gain_ddbi: i32,
    pub elevation_m: i32,
    pub plan: &'static ChannelPlan,
    pub gps: bool,
}

/// The generated network: hotspots, owners, the oracle's key and a day of entropy.
pub struct Network {
    pub config: DayConfig,
    pub hotspots: Vec<Hotspot>,
    pub owners: Vec<Keypair>,
    pub oracle: Keypair,
    /// Entropy published every tick from 3 ticks before the day starts to its end.
    pub entropy: Vec<Entropy>,
    grid: HashMap<(i32, i32), Vec<u32>>,
    radio: RadioParams,
}

/// A deterministic 32-byte seed for `(seed, label, index)`.
pub fn derive_seed(seed: u64, label: &str, index: u64) -> [u8; 32] {
    let mut hasher = Sha256::new();
    hasher.update(seed.to_le_bytes());
    hasher.update((label.len() as u64).to_le_bytes());
    hasher.update(label.as_bytes());
    hasher.update(index.to_le_bytes());
    hasher.finalize().into()
}

fn rng_for(seed: u64, label: &str, index: u64) -> ChaCha8Rng {
    ChaCha8Rng::from_seed(derive_seed(seed, label, index))
}

/// The `index`-th hotspot key of `seed` (also used by the ingest client).
pub fn hotspot_keypair(seed: u64, index: u64) -> Keypair {
    Keypair::from_seed(derive_seed(seed, "hotspot", index))
}

/// Real positions (lat, lng) from the CSV files in `dir` (columns `lat,lng` or `lt,lg`) that
/// fall inside a region, sorted so the order does not depend on the directory listing.
pub fn real_positions(dir: &Path) -> Result<Vec<(f64, f64)>, DayError> {
    let err = |reason: String| DayError::Positions {
        path: dir.display().to_string(),
        reason,
    };
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .map_err(|e| err(e.to_string()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "csv"))
        .collect();
    files.sort();
    let mut out = Vec::new();
    for file in files {
        let mut reader = csv::Reader::from_path(&file).map_err(|e| err(e.to_string()))?;
        let headers = reader.headers().map_err(|e| err(e.to_string()))?.clone();
        let column = |names: &[&str]| headers.iter().position(|h| names.contains(&h));
        let (Some(lat), Some(lng)) = (column(&["lat", "lt"]), column(&["lng", "lg"])) else {
            continue;
        };
        for record in reader.records() {
            let record = record.map_err(|e| err(format!("{}: {e}", file.display())))?;
            let parse = |i: usize| record.get(i).and_then(|v| v.parse::<f64>().ok());
            if let (Some(a), Some(b)) = (parse(lat), parse(lng))
                && let Ok(ll) = LatLng::new(a, b)
                && region_of(ll.to_cell(Resolution::Twelve)).is_some()
            {
                out.push((a, b));
            }
        }
    }
    out.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.total_cmp(&b.1)));
    out.dedup();
    if out.is_empty() {
        return Err(DayError::NoPositions(dir.display().to_string()));
    }
    Ok(out)
}

/// Number of hotspots at `scale`.
pub fn hotspot_count(scale: f64) -> u64 {
    ((FULL_HOTSPOTS as f64 * scale).round() as u64).max(1)
}

/// A point `distance_m` from (`lat`, `lng`) towards `bearing` (radians), flat-earth (fine for
/// a few km).
fn offset(lat: f64, lng: f64, distance_m: f64, bearing: f64) -> (f64, f64) {
    let dlat = distance_m * bearing.cos() / 111_320.0;
    let dlng = distance_m * bearing.sin() / (111_320.0 * lat.to_radians().cos().max(0.01));
    ((lat + dlat).clamp(-85.0, 85.0), lng + dlng)
}

fn place(anchor: (f64, f64), rng: &mut ChaCha8Rng) -> (f64, f64) {
    let bearing = rng.random::<f64>() * std::f64::consts::TAU;
    let distance = if rng.random::<f64>() < CLUSTER_SHARE {
        // Box-Muller magnitude: a 2-D Gaussian around the anchor.
        let u: f64 = rng.random::<f64>().max(1e-12);
        CLUSTER_SIGMA_M * (-2.0 * u.ln()).sqrt()
    } else {
        SPREAD_RADIUS_M * rng.random::<f64>().sqrt()
    };
    offset(anchor.0, anchor.1, distance, bearing)
}

fn grid_of(lat: f64, lng: f64) -> (i32, i32) {
    (
        (lat / GRID_DEG).floor() as i32,
        (lng / GRID_DEG).floor() as i32,
    )
}

/// Runs `f(i)` for `i in 0..n` on `threads` threads; results in index order.
pub fn parallel_map<T: Send>(n: usize, threads: usize, f: impl Fn(usize) -> T + Sync) -> Vec<T> {
    let threads = threads.max(1);
    let per = n.div_ceil(threads).max(1);
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let f = &f;
                scope.spawn(move || (t * per..((t + 1) * per).min(n)).map(f).collect::<Vec<T>>())
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap_or_else(|e| std::panic::resume_unwind(e)))
            .collect()
    })
}

/// Number of worker threads to use (every core).
pub fn cores() -> usize {
    std::thread::available_parallelism().map_or(2, |n| n.get())
}

impl Network {
    /// Builds the network of `config` around the real positions `real`.
    pub fn build(config: DayConfig, real: &[(f64, f64)]) -> Result<Self, DayError> {
        if !(config.scale > 0.0 && config.scale <= 1.0) {
            return Err(DayError::Scale(config.scale));
        }
        if real.is_empty() {
            return Err(DayError::NoPositions("(none given)".into()));
        }
        let seed = config.seed;
        let n = hotspot_count(config.scale);
        let anchor_count = (n / HOTSPOTS_PER_ANCHOR).clamp(1, real.len() as u64) as usize;
        let mut pick = rng_for(seed, "anchors", 0);
        let mut pool: Vec<(f64, f64)> = real.to_vec();
        for i in 0..anchor_count {
            let j = pick.random_range(i..pool.len());
            pool.swap(i, j);
        }
        let anchors = &pool[..anchor_count];
        let owner_count = (n / 10).max(1) as usize;
        let owners = parallel_map(owner_count, cores(), |i| {
            Keypair::from_seed(derive_seed(seed, "owner", i as u64))
        });
        let hotspots: Vec<Option<Hotspot>> = parallel_map(n as usize, cores(), |i| {
            let mut rng = rng_for(seed, "place", i as u64);
            let anchor = anchors[rng.random_range(0..anchors.len())];
            let (lat, lng) = place(anchor, &mut rng);
            // Off the region map (at sea, across a border): keep the real anchor position.
            let cell = LatLng::new(lat, lng)
                .ok()
                .map(|ll| ll.to_cell(Resolution::Twelve))
                .filter(|c| region_of(*c).is_some())
                .or_else(|| {
                    Some(
                        LatLng::new(anchor.0, anchor.1)
                            .ok()?
                            .to_cell(Resolution::Twelve),
                    )
                })?;
            let plan = channel_plan(region_of(cell)?).ok()?;
            let centre = LatLng::from(cell);
            let keypair = hotspot_keypair(seed, i as u64);
            Some(Hotspot {
                key: keypair.public(),
                keypair,
                owner: rng.random_range(0..owner_count),
                cell,
                lat: centre.lat(),
                lng: centre.lng(),
                gain_ddbi: GAINS_DDBI[rng.random_range(0..GAINS_DDBI.len())],
                elevation_m: rng.random_range(0..30),
                plan,
                gps: rng.random::<f64>() < GPS_SHARE,
            })
        });
        let hotspots: Vec<Hotspot> = hotspots.into_iter().flatten().collect();
        let mut grid: HashMap<(i32, i32), Vec<u32>> = HashMap::new();
        for (i, h) in hotspots.iter().enumerate() {
            grid.entry(grid_of(h.lat, h.lng))
                .or_default()
                .push(i as u32);
        }
        let oracle = Keypair::from_seed(derive_seed(seed, "oracle", 0));
        let entropy = (0..(DAY_MS / ENTROPY_TICK_MS + 3))
            .map(|j| {
                let mut entropy = Entropy {
                    data: derive_seed(seed, "entropy", j).to_vec(),
                    timestamp_ms: DAY_START_MS - 3 * ENTROPY_TICK_MS + j * ENTROPY_TICK_MS,
                    version: oracle::entropy::ENTROPY_VERSION,
                    ..Default::default()
                };
                entropy.sign_with(&oracle);
                entropy
            })
            .collect();
        Ok(Self {
            config,
            hotspots,
            owners,
            oracle,
            entropy,
            grid,
            radio: RadioParams::default(),
        })
    }

    /// Beacons of the whole day (every hotspot, every segment).
    pub fn beacon_count(&self) -> u64 {
        self.hotspots.len() as u64 * BEACONS_PER_DAY
    }

    /// The location assertions of hotspots `range`, signed by hotspot and owner, as stored by
    /// the oracle's ingest: (record, message id, received, signed bytes).
    pub fn assertions(
        &self,
        range: std::ops::Range<usize>,
    ) -> Vec<(HotspotRecord, [u8; 32], u64, Vec<u8>)> {
        let asserted_ms = DAY_START_MS - 7 * DAY_MS;
        self.hotspots[range]
            .iter()
            .map(|h| {
                let owner = &self.owners[h.owner];
                let assertion = LocationAssertion::new_signed(
                    &h.keypair,
                    owner,
                    u64::from(h.cell),
                    h.gain_ddbi,
                    h.elevation_m,
                    asserted_ms,
                );
                let record = HotspotRecord {
                    key: h.key,
                    owner: owner.public(),
                    location: u64::from(h.cell),
                    gain_ddbi: h.gain_ddbi,
                    elevation_m: h.elevation_m,
                    asserted_ms,
                    full_hotspot: true,
                };
                (
                    record,
                    message_id(&assertion),
                    asserted_ms,
                    prost::Message::encode_to_vec(&assertion),
                )
            })
            .collect()
    }

    /// The signed reports of `beacons` (beacon `b` is hotspot `b / 4`'s beacon in segment
    /// `b % 4`) and of every witness that heard them, sorted by receive time (ties in the order
    /// generated).
    pub fn chunk(&self, beacons: impl IntoIterator<Item = u64>) -> Vec<NewReport> {
        let mut out = Vec::new();
        for b in beacons {
            self.beacon_and_witnesses(b, &mut out);
        }
        out.sort_by_key(|r| r.received_ms);
        out
    }

    /// Every beacon number of the day, ordered by transmit time (then number).
    pub fn beacons_in_time_order(&self) -> Vec<u64> {
        let total = self.beacon_count();
        let per = total.div_ceil(cores() as u64 * 16).max(1);
        let parts = parallel_map(total.div_ceil(per) as usize, cores(), |p| {
            let from = p as u64 * per;
            (from..(from + per).min(total))
                .map(|b| (self.beacon_start(b).1, b))
                .collect::<Vec<_>>()
        });
        let mut all: Vec<(u64, u64)> = parts.into_iter().flatten().collect();
        all.sort_unstable();
        all.into_iter().map(|(_, b)| b).collect()
    }

    /// Beacon `b`'s random stream and its transmit time, drawn first from that stream.
    fn beacon_start(&self, b: u64) -> (ChaCha8Rng, u64) {
        let segment = b % BEACONS_PER_DAY;
        let mut rng = rng_for(self.config.seed, "beacon", b);
        let tx_ms = DAY_START_MS + segment * SEGMENT_MS + rng.random_range(0..SEGMENT_MS - 10_000);
        (rng, tx_ms)
    }

    fn beacon_and_witnesses(&self, b: u64, out: &mut Vec<NewReport>) {
        let index = (b / BEACONS_PER_DAY) as usize;
        let Some(h) = self.hotspots.get(index) else {
            return;
        };
        let (mut rng, tx_ms) = self.beacon_start(b);
        // The agent fetched the entropy in force a moment before.
        let j = ((tx_ms - (DAY_START_MS - 3 * ENTROPY_TICK_MS)) / ENTROPY_TICK_MS) as usize;
        let Some(entropy) = self.entropy.get(j) else {
            return;
        };
        let local: [u8; LOCAL_ENTROPY_SIZE] = rng.random();
        let remote = RemoteEntropy {
            data: &entropy.data,
            timestamp_ms: entropy.timestamp_ms,
            version: entropy.version,
        };
        let Ok(beacon) = derive(remote, &local, h.plan, h.gain_ddbi) else {
            return;
        };
        let tx_ns = tx_ms * 1_000_000 + rng.random_range(0..1_000_000);
        let mut report = BeaconReport {
            local_entropy: local.to_vec(),
            remote_entropy: entropy.data.clone(),
            data: beacon.data.clone(),
            frequency_hz: beacon.frequency_hz,
            datarate: beacon.datarate as i32,
            tx_power_ddbm: beacon.max_conducted_power_dbm * 10,
            timestamp_ms: tx_ms,
            tmst: rng.random(),
            radio_timestamp_ns: tx_ns,
            ..Default::default()
        };
        report.sign_with(&h.keypair);
        out.push(new_report(
            ReportKind::Beacon,
            h.key,
            &report,
            tx_ms + rng.random_range(50..600),
        ));
        let cap = rng.random_range(0..=MAX_WITNESSES_PER_BEACON);
        let link = |rx: &Hotspot, distance_m: f64| Link {
            distance_m,
            freq_hz: beacon.frequency_hz,
            sf: beacon.datarate.spreading_factor().unwrap_or(9),
            bandwidth_hz: beacon.datarate.bandwidth_hz().unwrap_or(125_000),
            tx_power_dbm: f64::from(beacon.max_conducted_power_dbm),
            tx_gain_dbi: f64::from(h.gain_ddbi) / 10.0,
            rx_gain_dbi: f64::from(rx.gain_ddbi) / 10.0,
            link_shadowing_db: link_shadowing_db(
                self.config.seed,
                h.key.as_bytes(),
                rx.key.as_bytes(),
                self.radio.link_shadowing_sigma_db,
            ),
        };
        let candidates = self.candidates(h, index, &mut rng);
        let mut heard = 0;
        for c in candidates {
            if heard >= cap {
                break;
            }
            let rx = &self.hotspots[c as usize];
            let distance_m = haversine_m(h.lat, h.lng, rx.lat, rx.lng);
            let Some(reception) = self.radio.receive(&link(rx, distance_m), &mut rng) else {
                continue;
            };
            heard += 1;
            let at_ns = tx_ns as f64 + reception.time_of_flight_ns + reception.timestamp_error_ns;
            let received_ms = tx_ms + rng.random_range(150..1_400);
            let mut witness = WitnessReport {
                data: beacon.data.clone(),
                timestamp_ms: received_ms - rng.random_range(20..120),
                tmst: rng.random(),
                signal_ddbm: (reception.rssi_dbm * 10.0).round() as i32,
                snr_ddb: (reception.snr_db * 10.0).round() as i32,
                frequency_hz: beacon.frequency_hz,
                datarate: beacon.datarate as i32,
                radio_timestamp_ns: if rx.gps { at_ns.round() as u64 } else { 0 },
                ..Default::default()
            };
            witness.sign_with(&rx.keypair);
            out.push(new_report(
                ReportKind::Witness,
                rx.key,
                &witness,
                received_ms,
            ));
        }
    }

    /// A random sample of hotspots in the 3 x 3 grid cells around `h` (never `h` itself).
    fn candidates(&self, h: &Hotspot, index: usize, rng: &mut ChaCha8Rng) -> Vec<u32> {
        let (gy, gx) = grid_of(h.lat, h.lng);
        let cells: Vec<&Vec<u32>> = (-1..=1)
            .flat_map(|dy| (-1..=1).map(move |dx| (gy + dy, gx + dx)))
            .filter_map(|c| self.grid.get(&c))
            .collect();
        let total: usize = cells.iter().map(|c| c.len()).sum();
        let pick = |k: usize| {
            let mut k = k;
            for cell in &cells {
                if k < cell.len() {
                    return cell[k];
                }
                k -= cell.len();
            }
            u32::MAX
        };
        let mut chosen: Vec<u32> = if total <= CANDIDATES_PER_BEACON + 1 {
            (0..total).map(pick).collect()
        } else {
            let mut seen = std::collections::HashSet::new();
            let mut chosen = Vec::with_capacity(CANDIDATES_PER_BEACON);
            while chosen.len() < CANDIDATES_PER_BEACON {
                let k = rng.random_range(0..total);
                if seen.insert(k) {
                    chosen.push(pick(k));
                }
            }
            chosen
        };
        chosen.retain(|&c| c as usize != index && c != u32::MAX);
        chosen
    }
}

fn new_report<M: prost::Message + HasData>(
    kind: ReportKind,
    key: PublicKey,
    message: &M,
    received_ms: u64,
) -> NewReport {
    NewReport {
        kind,
        id: message_id(message),
        hotspot_key: key,
        data: message.data().to_vec(),
        received_ms,
        message: message.encode_to_vec(),
    }
}

/// Reports carrying a beacon payload.
trait HasData {
    fn data(&self) -> &[u8];
}
impl HasData for BeaconReport {
    fn data(&self) -> &[u8] {
        &self.data
    }
}
impl HasData for WitnessReport {
    fn data(&self) -> &[u8] {
        &self.data
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn positions() -> Vec<(f64, f64)> {
        vec![(37.80, -122.27), (39.07, -84.25), (40.43, -3.67)]
    }

    #[test]
    fn generation_is_deterministic_and_signed() {
        let config = DayConfig {
            scale: 0.0005,
            seed: 7,
        };
        let a = Network::build(config.clone(), &positions()).expect("network");
        let b = Network::build(config, &positions()).expect("network");
        assert_eq!(a.hotspots.len(), 500);
        let ca = a.chunk(0..40);
        let cb = b.chunk(0..40);
        assert_eq!(
            ca.iter().map(|r| r.message.clone()).collect::<Vec<_>>(),
            cb.iter().map(|r| r.message.clone()).collect::<Vec<_>>()
        );
        let witnesses = ca.iter().filter(|r| r.kind == ReportKind::Witness).count();
        assert!(witnesses > 40, "only {witnesses} witnesses for 40 beacons");
        for r in &ca {
            match r.kind {
                ReportKind::Beacon => {
                    let m: BeaconReport =
                        prost::Message::decode(r.message.as_slice()).expect("decode");
                    assert_eq!(m.verify().expect("signature"), r.hotspot_key);
                }
                ReportKind::Witness => {
                    let m: WitnessReport =
                        prost::Message::decode(r.message.as_slice()).expect("decode");
                    assert_eq!(m.verify().expect("signature"), r.hotspot_key);
                    assert!(m.signal_ddbm < 0 && m.signal_ddbm > -1500);
                }
            }
        }
    }

    #[test]
    fn the_day_is_listed_in_transmit_order_and_chunks_in_receive_order() {
        let config = DayConfig {
            scale: 0.0005,
            seed: 7,
        };
        let network = Network::build(config, &positions()).expect("network");
        let order = network.beacons_in_time_order();
        let mut sorted = order.clone();
        sorted.sort_unstable();
        assert_eq!(sorted, (0..network.beacon_count()).collect::<Vec<_>>());
        let tx: Vec<u64> = order.iter().map(|&b| network.beacon_start(b).1).collect();
        assert!(tx.windows(2).all(|w| w[0] <= w[1]), "not in transmit order");
        // Beacons of different hotspots and segments interleave: not the numbering's order.
        assert_ne!(order, sorted);

        let chunk = network.chunk(order[..40].iter().copied());
        assert!(
            chunk
                .windows(2)
                .all(|w| w[0].received_ms <= w[1].received_ms)
        );
        // The same reports whatever the order the beacons are given in.
        let mut reversed = network.chunk(order[..40].iter().rev().copied());
        let ids = |c: &[NewReport]| {
            let mut ids: Vec<[u8; 32]> = c.iter().map(|r| r.id).collect();
            ids.sort_unstable();
            ids
        };
        assert_eq!(ids(&chunk), ids(&reversed));
        reversed.sort_by_key(|r| (r.received_ms, r.id));
        let mut forward = chunk;
        forward.sort_by_key(|r| (r.received_ms, r.id));
        assert_eq!(
            forward.iter().map(|r| &r.message).collect::<Vec<_>>(),
            reversed.iter().map(|r| &r.message).collect::<Vec<_>>()
        );
    }
}
