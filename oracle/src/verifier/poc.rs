//! The pure proof-of-coverage verification: one beacon and the witnesses paired with it (same
//! payload) in, one verdict per report out. No I/O, no clock: the same inputs always give the
//! same verdicts, so anyone can re-run it over the stored reports.

use h3o::{CellIndex, Resolution};
use schemas::PublicKey;
use schemas::beacon::{self, RemoteEntropy};
use schemas::proto::{BeaconReport, WitnessReport};
use schemas::region::{Region, channel_plan};
use std::collections::{HashMap, HashSet};

use super::params::VerifierParams;
use super::reason::{Invalid, Side};
use crate::density::HexDensityMap;
use crate::geometry;

/// A report with the oracle's receive time and its id.
#[derive(Debug, Clone)]
pub struct Received<T> {
    pub id: [u8; 32],
    pub received_ms: u64,
    pub report: T,
}

/// What the verifier knows about an onboarded hotspot.
#[derive(Debug, Clone, PartialEq)]
pub struct HotspotInfo {
    pub owner: PublicKey,
    /// Asserted res-12 cell.
    pub location: CellIndex,
    pub gain_ddbi: i32,
    pub elevation_m: i32,
    /// Region of the asserted location; `None` outside every region.
    pub region: Option<Region>,
    pub full_hotspot: bool,
    /// Timestamp of the assertion in force.
    pub asserted_ms: u64,
}

impl HotspotInfo {
    /// Info from a stored record; `None` when its location is not a valid H3 cell.
    pub fn from_record(record: &crate::store::HotspotRecord) -> Option<Self> {
        let location = CellIndex::try_from(record.location).ok()?;
        Some(Self {
            owner: record.owner,
            location,
            gain_ddbi: record.gain_ddbi,
            elevation_m: record.elevation_m,
            region: schemas::region::region_of(location),
            full_hotspot: record.full_hotspot,
            asserted_ms: record.asserted_ms,
        })
    }
}

/// A published entropy value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EntropyInfo {
    pub timestamp_ms: u64,
    pub version: u32,
}

/// Everything a verification reads besides the reports.
pub struct Context<'a> {
    pub params: &'a VerifierParams,
    pub hotspots: &'a HashMap<PublicKey, HotspotInfo>,
    pub entropy: &'a HashMap<Vec<u8>, EntropyInfo>,
    pub density: &'a HexDensityMap,
    /// Last beacon of each hotspot that passed the regular checks.
    pub last_beacon_ms: &'a HashMap<PublicKey, u64>,
}

/// The verdict on one witness report.
#[derive(Debug, Clone, PartialEq)]
pub struct WitnessVerdict {
    pub witness_id: [u8; 32],
    pub witness: PublicKey,
    pub received_ms: u64,
    pub outcome: Result<(), (Side, Invalid)>,
    /// Among the rewarded witnesses of the beacon.
    pub selected: bool,
    pub reward_units_e4: u32,
}

/// The verdict on one beacon and its witnesses.
#[derive(Debug, Clone, PartialEq)]
pub struct PocVerdict {
    pub beacon_id: [u8; 32],
    pub beaconer: PublicKey,
    pub received_ms: u64,
    pub epoch: u64,
    pub outcome: Result<(), Invalid>,
    /// Asserted location of the beaconer, when known.
    pub location: Option<u64>,
    /// The beaconer's transmit scale (also applied to its witnesses' rewards).
    pub hex_scale_e4: u32,
    pub reward_units_e4: u32,
    pub valid_witnesses: u32,
    pub selected_witnesses: u32,
    /// The beacon passed every check before reciprocity (it advances the beacon schedule).
    pub counts_for_schedule: bool,
    pub witnesses: Vec<WitnessVerdict>,
}

/// Verifies `beacon` and the `witnesses` paired with it (any order).
pub fn verify_poc(
    beacon: &Received<BeaconReport>,
    witnesses: &[Received<WitnessReport>],
    ctx: &Context<'_>,
) -> PocVerdict {
    let beaconer =
        PublicKey::from_slice(&beacon.report.hotspot_key).unwrap_or(PublicKey::from_bytes([0; 32]));
    let info = ctx.hotspots.get(&beaconer);
    let outcome = check_beacon(beacon, &beaconer, info, ctx);
    let hex_scale_e4 = info
        .and_then(|i| ctx.density.scale_e4(i.location))
        .unwrap_or(ctx.params.default_tx_scale_e4);
    let mut ordered: Vec<&Received<WitnessReport>> = witnesses.iter().collect();
    ordered.sort_by_key(|w| (w.received_ms, w.id));
    let mut verdicts = match (&outcome, info) {
        (Ok(()), Some(info)) => check_witnesses(beacon, &beaconer, info, &ordered, ctx),
        (Err(reason), _) => ordered
            .iter()
            .map(|w| beaconer_invalid(w, &beaconer, reason))
            .collect(),
        (Ok(()), None) => Vec::new(),
    };
    let valid_witnesses = verdicts.iter().filter(|v| v.outcome.is_ok()).count() as u32;
    let selected = valid_witnesses.min(ctx.params.max_witnesses_per_poc);
    let witness_units = ctx.params.reward_units.witness_units_e4(selected);
    for verdict in verdicts
        .iter_mut()
        .filter(|v| v.outcome.is_ok())
        .take(selected as usize)
    {
        verdict.selected = true;
        verdict.reward_units_e4 = witness_units;
    }
    let reward_units_e4 = if outcome.is_ok() {
        ctx.params.reward_units.beaconer_units_e4(selected)
    } else {
        0
    };
    PocVerdict {
        beacon_id: beacon.id,
        beaconer,
        received_ms: beacon.received_ms,
        epoch: ctx.params.epoch_of(beacon.received_ms),
        counts_for_schedule: outcome.is_ok(),
        outcome,
        location: info.map(|i| u64::from(i.location)),
        hex_scale_e4,
        reward_units_e4,
        valid_witnesses,
        selected_witnesses: selected,
        witnesses: verdicts,
    }
}

fn beaconer_invalid(
    w: &Received<WitnessReport>,
    beaconer: &PublicKey,
    reason: &Invalid,
) -> WitnessVerdict {
    let witness =
        PublicKey::from_slice(&w.report.hotspot_key).unwrap_or(PublicKey::from_bytes([0; 32]));
    let outcome = if witness == *beaconer {
        Err((Side::Witness, Invalid::SelfWitness))
    } else {
        Err((Side::Beaconer, reason.clone()))
    };
    WitnessVerdict {
        witness_id: w.id,
        witness,
        received_ms: w.received_ms,
        outcome,
        selected: false,
        reward_units_e4: 0,
    }
}

fn check_beacon(
    beacon: &Received<BeaconReport>,
    key: &PublicKey,
    info: Option<&HotspotInfo>,
    ctx: &Context<'_>,
) -> Result<(), Invalid> {
    let info = info.ok_or(Invalid::GatewayNotFound)?;
    let entropy = ctx
        .entropy
        .get(&beacon.report.remote_entropy)
        .ok_or(Invalid::UnknownEntropy)?;
    check_entropy(beacon.received_ms, entropy, ctx.params)?;
    if !info.full_hotspot {
        return Err(Invalid::InvalidCapability);
    }
    check_schedule(
        ctx.last_beacon_ms.get(key).copied(),
        beacon.received_ms,
        ctx.params,
    )?;
    check_payload(&beacon.report, entropy, info)
}

/// `entropy_expired`: received within `[published, published + lifespan]`.
pub fn check_entropy(
    received_ms: u64,
    entropy: &EntropyInfo,
    params: &VerifierParams,
) -> Result<(), Invalid> {
    let age_ms = received_ms as i64 - entropy.timestamp_ms as i64;
    let lifespan_ms = params.entropy_lifespan.as_millis() as u64;
    if age_ms < 0 || age_ms as u64 > lifespan_ms {
        return Err(Invalid::EntropyExpired {
            age_ms,
            lifespan_ms,
        });
    }
    Ok(())
}

/// `irregular_interval`: the beacon must fall in a later interval bucket than the last one.
pub fn check_schedule(
    last_beacon_ms: Option<u64>,
    received_ms: u64,
    params: &VerifierParams,
) -> Result<(), Invalid> {
    let interval_ms = params.beacon_interval.as_millis().max(1) as u64;
    match last_beacon_ms {
        Some(last) if received_ms / interval_ms <= last / interval_ms => {
            Err(Invalid::IrregularInterval {
                last_beacon_ms: last,
                interval_ms,
            })
        }
        _ => Ok(()),
    }
}

/// `invalid_packet`: the payload, frequency and datarate must rebuild from the entropy.
pub fn check_payload(
    report: &BeaconReport,
    entropy: &EntropyInfo,
    info: &HotspotInfo,
) -> Result<(), Invalid> {
    let region = info.region.ok_or(Invalid::InvalidRegion)?;
    let plan = channel_plan(region).map_err(|_| Invalid::InvalidRegion)?;
    let remote = RemoteEntropy {
        data: &report.remote_entropy,
        timestamp_ms: entropy.timestamp_ms,
        version: entropy.version,
    };
    let derived =
        beacon::derive(remote, &report.local_entropy, plan, info.gain_ddbi).map_err(|_| {
            Invalid::InvalidPacket {
                what: "entropy does not derive a beacon",
            }
        })?;
    if derived.data != report.data {
        return Err(Invalid::InvalidPacket { what: "payload" });
    }
    if derived.frequency_hz != report.frequency_hz {
        return Err(Invalid::InvalidPacket { what: "frequency" });
    }
    if derived.datarate as i32 != report.datarate {
        return Err(Invalid::InvalidPacket { what: "datarate" });
    }
    Ok(())
}

fn check_witnesses(
    beacon: &Received<BeaconReport>,
    beaconer: &PublicKey,
    beaconer_info: &HotspotInfo,
    ordered: &[&Received<WitnessReport>],
    ctx: &Context<'_>,
) -> Vec<WitnessVerdict> {
    let first_witness_ms = ordered
        .iter()
        .map(|w| w.received_ms)
        .min()
        .unwrap_or(u64::MAX);
    let entropy = ctx.entropy.get(&beacon.report.remote_entropy);
    let mut seen: HashSet<PublicKey> = HashSet::new();
    ordered
        .iter()
        .map(|w| {
            let witness = PublicKey::from_slice(&w.report.hotspot_key)
                .unwrap_or(PublicKey::from_bytes([0; 32]));
            let outcome = if witness == *beaconer {
                Err(Invalid::SelfWitness)
            } else if !seen.insert(witness) {
                Err(Invalid::Duplicate)
            } else {
                let lag = Lag {
                    beacon_ms: beacon.received_ms,
                    first_witness_ms,
                };
                check_witness(
                    w,
                    &beacon.report,
                    beaconer_info,
                    ctx.hotspots.get(&witness),
                    entropy,
                    lag,
                    ctx.params,
                )
            };
            WitnessVerdict {
                witness_id: w.id,
                witness,
                received_ms: w.received_ms,
                outcome: outcome.map_err(|reason| (Side::Witness, reason)),
                selected: false,
                reward_units_e4: 0,
            }
        })
        .collect()
}

/// Receive times the lag check compares against.
#[derive(Debug, Clone, Copy)]
pub struct Lag {
    pub beacon_ms: u64,
    pub first_witness_ms: u64,
}

/// The witness checks, in Helium's order.
pub fn check_witness(
    w: &Received<WitnessReport>,
    beacon: &BeaconReport,
    beaconer: &HotspotInfo,
    info: Option<&HotspotInfo>,
    entropy: Option<&EntropyInfo>,
    lag: Lag,
    params: &VerifierParams,
) -> Result<(), Invalid> {
    let info = info.ok_or(Invalid::GatewayNotFound)?;
    check_entropy(
        w.received_ms,
        entropy.ok_or(Invalid::UnknownEntropy)?,
        params,
    )?;
    check_lag(w.received_ms, lag, params)?;
    if w.report.data != beacon.data {
        return Err(Invalid::InvalidPacket {
            what: "witnessed payload",
        });
    }
    if !info.full_hotspot {
        return Err(Invalid::InvalidCapability);
    }
    check_frequency(beacon.frequency_hz, w.report.frequency_hz, params)?;
    if info.region.is_none() || info.region != beaconer.region {
        return Err(Invalid::InvalidRegion);
    }
    check_min_distance(beaconer.location, info.location, params)?;
    let distance_m = check_max_distance(beaconer.location, info.location, params)?;
    check_rssi(
        w.report.signal_ddbm,
        w.report.frequency_hz,
        beacon.tx_power_ddbm,
        beaconer.gain_ddbi,
        info.gain_ddbi,
        distance_m,
    )
}

/// `too_late`: within 4 s of the beacon, or 1.5 s of the first witness if a witness came first.
pub fn check_lag(received_ms: u64, lag: Lag, params: &VerifierParams) -> Result<(), Invalid> {
    let (first, max) = if lag.beacon_ms <= lag.first_witness_ms {
        (lag.beacon_ms, params.max_beacon_to_witness_lag)
    } else {
        (lag.first_witness_ms, params.max_witness_lag)
    };
    let lag_ms = received_ms.saturating_sub(first);
    let max_lag_ms = max.as_millis() as u64;
    if lag_ms > max_lag_ms {
        return Err(Invalid::TooLate { lag_ms, max_lag_ms });
    }
    Ok(())
}

/// `invalid_frequency`: within the tolerance of the beacon's frequency.
pub fn check_frequency(
    beacon_hz: u64,
    witness_hz: u64,
    params: &VerifierParams,
) -> Result<(), Invalid> {
    let offset_hz = beacon_hz.abs_diff(witness_hz);
    if offset_hz > params.max_frequency_offset_hz {
        return Err(Invalid::InvalidFrequency {
            offset_hz,
            max_offset_hz: params.max_frequency_offset_hz,
        });
    }
    Ok(())
}

/// `below_min_distance`: H3 grid distance between the parents at the configured resolution.
pub fn check_min_distance(
    a: CellIndex,
    b: CellIndex,
    params: &VerifierParams,
) -> Result<(), Invalid> {
    let res = Resolution::try_from(params.cell_distance_resolution).unwrap_or(Resolution::Eleven);
    let cells = geometry::cell_distance(a, b, res).unwrap_or(0);
    if cells < params.min_cell_distance {
        return Err(Invalid::BelowMinDistance {
            cells,
            min_cells: params.min_cell_distance,
        });
    }
    Ok(())
}

/// `max_distance_exceeded`: whole km (Helium's `distance_m / 1000 > max`). Returns the distance.
pub fn check_max_distance(
    a: CellIndex,
    b: CellIndex,
    params: &VerifierParams,
) -> Result<u32, Invalid> {
    let distance_m = geometry::distance_m(a, b);
    if distance_m / 1000 > params.max_distance_km {
        return Err(Invalid::MaxDistanceExceeded {
            distance_m,
            max_km: params.max_distance_km,
        });
    }
    Ok(distance_m)
}

/// `bad_rssi`: not stronger than free-space propagation from the reported transmit power.
pub fn check_rssi(
    signal_ddbm: i32,
    freq_hz: u64,
    tx_power_ddbm: i32,
    beacon_gain_ddbi: i32,
    witness_gain_ddbi: i32,
    distance_m: u32,
) -> Result<(), Invalid> {
    let max_dbm = geometry::max_rssi_dbm(
        f64::from(tx_power_ddbm) / 10.0,
        beacon_gain_ddbi,
        witness_gain_ddbi,
        freq_hz,
        f64::from(distance_m),
    );
    let signal_dbm = f64::from(signal_ddbm) / 10.0;
    if signal_dbm > max_dbm {
        return Err(Invalid::BadRssi {
            signal_dbm,
            max_dbm,
        });
    }
    Ok(())
}
