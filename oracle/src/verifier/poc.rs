//! The pure proof-of-coverage verification: one beacon and the witnesses paired with it (same
//! payload) in, one verdict per report out. No I/O, no clock: the same inputs always give the
//! same verdicts, so anyone can re-run it over the stored reports.
//!
//! Order (Helium's, `poc-reference.md` §2): the beacon's regular checks; then each witness's
//! regular checks and its HIP 106 reciprocity; then the beacon's reciprocity, which, when it
//! fails, invalidates every witness on the beaconer's side. Valid witnesses are selected by
//! arrival, at most `max_witnesses_per_poc`, and HIP 15 units are assigned.

use h3o::CellIndex;
use schemas::PublicKey;
use schemas::proto::{BeaconReport, WitnessReport};
use schemas::region::Region;
use std::collections::{HashMap, HashSet};

use super::checks::{self, Lag};
use super::denylist::Denylist;
use super::params::VerifierParams;
use super::physics_checks;
use super::reason::{Invalid, Side};
use super::state::{HotspotState, StateBook};
use crate::density::HexDensityMap;
use crate::trust::TrustTable;

/// What a witness report that passed the regular checks contributes to witness-graph trust.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Evidence {
    /// Asserted beaconer-witness distance.
    pub distance_m: u32,
    /// Reported RSSI, dBm x 10.
    pub signal_ddbm: i32,
}

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
    pub state: &'a StateBook,
    pub denylist: &'a Denylist,
    /// Witness-graph trust in force (`None` when the check is off).
    pub trust: Option<&'a TrustTable>,
}

impl<'a> Context<'a> {
    fn state_of(&self, key: &PublicKey) -> HotspotState {
        self.state.get(key).copied().unwrap_or_default()
    }

    /// What [`check`] reads.
    pub fn inputs(&self) -> Inputs<'a> {
        Inputs {
            params: self.params,
            hotspots: self.hotspots,
            entropy: self.entropy,
            denylist: self.denylist,
        }
    }
}

/// What [`check`] reads: neither the hotspots' states, witness-graph trust nor the density map,
/// which change as proofs of coverage are judged, so the checks can run ahead of the judging.
#[derive(Clone, Copy)]
pub struct Inputs<'a> {
    pub params: &'a VerifierParams,
    pub hotspots: &'a HashMap<PublicKey, HotspotInfo>,
    pub entropy: &'a HashMap<Vec<u8>, EntropyInfo>,
    pub denylist: &'a Denylist,
}

/// The verdict on one witness report.
#[derive(Debug, Clone, PartialEq)]
pub struct WitnessVerdict {
    pub witness_id: [u8; 32],
    pub witness: PublicKey,
    pub received_ms: u64,
    pub outcome: Result<(), (Side, Invalid)>,
    /// Passed every check before reciprocity (updates the witness's HIP 106 state).
    pub passed_regular: bool,
    /// Set when it passed the regular checks: its evidence for witness-graph trust.
    pub evidence: Option<Evidence>,
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
    /// Witness reports other than self-witnesses.
    pub witness_reports: u32,
    pub valid_witnesses: u32,
    pub selected_witnesses: u32,
    /// The beacon passed every check before reciprocity.
    pub passed_regular: bool,
    pub witnesses: Vec<WitnessVerdict>,
}

fn key_of(bytes: &[u8]) -> PublicKey {
    PublicKey::from_slice(bytes).unwrap_or(PublicKey::from_bytes([0; 32]))
}

/// Verifies `beacon` and the `witnesses` paired with it (any order): [`judge`] of [`check`].
pub fn verify_poc(
    beacon: &Received<BeaconReport>,
    witnesses: &[Received<WitnessReport>],
    ctx: &Context<'_>,
) -> PocVerdict {
    let checked = check(beacon, witnesses, &ctx.inputs());
    judge(beacon, witnesses, checked, ctx)
}

/// The part of a verification that reads no hotspot state, trust or density ([`Inputs`]): the
/// beacon's regular checks but its schedule, and, when they pass, every witness's regular
/// checks and the physics of the beacon with its witnesses (distances, radio, time of flight:
/// most of the cost). Pure, so it can run on another thread ahead of [`judge`].
#[derive(Debug, Clone, PartialEq)]
pub struct Checked {
    beaconer: PublicKey,
    /// The beaconer as the checks saw it.
    info: Option<HotspotInfo>,
    /// Indexes of the witnesses in arrival order (receive time, then id).
    order: Vec<usize>,
    /// Witness reports other than self-witnesses.
    witness_reports: u32,
    /// The beacon's regular checks before its schedule, and after it.
    before_schedule: Result<(), Invalid>,
    after_schedule: Result<(), Invalid>,
    /// When both passed: the witnesses' verdicts in arrival order, reciprocity and trust not
    /// yet applied (an `Ok` outcome passed everything else), and the beacon's physics with them.
    witnesses: Option<(Vec<WitnessVerdict>, Result<(), Invalid>)>,
}

/// Checks `beacon` and its `witnesses` (any order) as far as [`Inputs`] allow; [`judge`] ends
/// the verification.
pub fn check(
    beacon: &Received<BeaconReport>,
    witnesses: &[Received<WitnessReport>],
    inputs: &Inputs<'_>,
) -> Checked {
    let beaconer = key_of(&beacon.report.hotspot_key);
    let info = inputs.hotspots.get(&beaconer).cloned();
    let mut order: Vec<usize> = (0..witnesses.len()).collect();
    order.sort_by_key(|&i| (witnesses[i].received_ms, witnesses[i].id));
    let witness_reports = order
        .iter()
        .filter(|&&i| key_of(&witnesses[i].report.hotspot_key) != beaconer)
        .count() as u32;
    let (before_schedule, after_schedule) =
        beacon_regular(beacon, &beaconer, info.as_ref(), inputs);
    let checked_witnesses = match (&info, &before_schedule, &after_schedule) {
        (Some(info), Ok(()), Ok(())) => {
            let ordered: Vec<&Received<WitnessReport>> =
                order.iter().map(|&i| &witnesses[i]).collect();
            let mut verdicts = check_witnesses(beacon, &beaconer, info, &ordered, inputs);
            // Checks of the beacon that need its witnesses (transmit power, time of flight)
            // count as regular checks: a beacon failing them advances nothing.
            let physics = physics_checks::beacon_with_witnesses(
                beacon,
                info,
                &ordered,
                &mut verdicts,
                inputs,
            );
            Some((verdicts, physics))
        }
        _ => None,
    };
    Checked {
        beaconer,
        info,
        order,
        witness_reports,
        before_schedule,
        after_schedule,
        witnesses: checked_witnesses,
    }
}

/// Ends the verification of `beacon` and its `witnesses` (those [`check`] was given) against
/// the hotspots' states, trust and density in force: the beacon's schedule, reciprocity (HIP
/// 106) and trust on both sides, the selection of valid witnesses and their units.
pub fn judge(
    beacon: &Received<BeaconReport>,
    witnesses: &[Received<WitnessReport>],
    checked: Checked,
    ctx: &Context<'_>,
) -> PocVerdict {
    let Checked {
        beaconer,
        info,
        order,
        witness_reports,
        before_schedule,
        after_schedule,
        witnesses: checked_witnesses,
    } = checked;
    let regular = before_schedule
        .and_then(|()| {
            checks::schedule(
                ctx.state_of(&beaconer).last_beacon_ms,
                beacon.received_ms,
                ctx.params,
            )
        })
        .and(after_schedule);
    let hex_scale_e4 = info
        .as_ref()
        .and_then(|i| ctx.density.scale_e4(i.location))
        .unwrap_or(ctx.params.default_tx_scale_e4);
    let mut passed_regular = regular.is_ok();
    let (outcome, mut verdicts) = match (&regular, checked_witnesses) {
        (Ok(()), Some((verdicts, physics))) => {
            let verdicts: Vec<WitnessVerdict> = verdicts
                .into_iter()
                .map(|v| judge_witness(v, ctx))
                .collect();
            passed_regular = physics.is_ok();
            let reciprocity = physics.and_then(|()| {
                if ctx.params.checks.reciprocity {
                    let last_witness = ctx.state_of(&beaconer).last_witness_ms;
                    checks::beacon_reciprocity(
                        last_witness,
                        beacon.received_ms,
                        witness_reports,
                        ctx.params,
                    )
                } else {
                    Ok(())
                }
            });
            let reciprocity = reciprocity.and_then(|()| trusted(ctx, &beaconer));
            match reciprocity {
                Ok(()) => (Ok(()), verdicts),
                Err(reason) => {
                    let verdicts = verdicts
                        .into_iter()
                        .map(|v| invalidate_by_beaconer(v, &reason))
                        .collect();
                    (Err(reason), verdicts)
                }
            }
        }
        (Err(reason), _) => (
            Err(reason.clone()),
            order
                .iter()
                .map(|&i| beaconer_invalid(&witnesses[i], &beaconer, reason))
                .collect(),
        ),
        (Ok(()), None) => (Err(Invalid::GatewayNotFound), Vec::new()),
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
        passed_regular,
        outcome,
        location: info.map(|i| u64::from(i.location)),
        hex_scale_e4,
        reward_units_e4,
        witness_reports,
        valid_witnesses,
        selected_witnesses: selected,
        witnesses: verdicts,
    }
}

/// A witness that passed every check of [`check`]: its reciprocity (HIP 106), then its trust.
fn judge_witness(mut verdict: WitnessVerdict, ctx: &Context<'_>) -> WitnessVerdict {
    if verdict.outcome.is_ok() {
        let judged = if ctx.params.checks.reciprocity {
            let last = ctx.state_of(&verdict.witness).last_reciprocal_beacon_ms;
            checks::witness_reciprocity(last, verdict.received_ms, ctx.params)
        } else {
            Ok(())
        };
        verdict.outcome = judged
            .and_then(|()| trusted(ctx, &verdict.witness))
            .map_err(|reason| (Side::Witness, reason));
    }
    verdict
}

fn invalidate_by_beaconer(mut verdict: WitnessVerdict, reason: &Invalid) -> WitnessVerdict {
    if !matches!(verdict.outcome, Err((_, Invalid::SelfWitness))) {
        verdict.outcome = Err((Side::Beaconer, reason.clone()));
    }
    verdict
}

fn beaconer_invalid(
    w: &Received<WitnessReport>,
    beaconer: &PublicKey,
    reason: &Invalid,
) -> WitnessVerdict {
    let witness = key_of(&w.report.hotspot_key);
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
        passed_regular: false,
        evidence: None,
        selected: false,
        reward_units_e4: 0,
    }
}

/// The beacon's checks before reciprocity, in Helium's order, but its schedule (which reads its
/// state): those before it, and those after it.
fn beacon_regular(
    beacon: &Received<BeaconReport>,
    key: &PublicKey,
    info: Option<&HotspotInfo>,
    inputs: &Inputs<'_>,
) -> (Result<(), Invalid>, Result<(), Invalid>) {
    let before = || {
        let info = info.ok_or(Invalid::GatewayNotFound)?;
        if let Some(entry) = inputs.denylist.key(key, beacon.received_ms) {
            return Err(Invalid::Denied {
                reason: entry.reason.clone(),
            });
        }
        let entropy = inputs
            .entropy
            .get(&beacon.report.remote_entropy)
            .ok_or(Invalid::UnknownEntropy)?;
        checks::entropy(beacon.received_ms, entropy, inputs.params)?;
        if !info.full_hotspot {
            return Err(Invalid::InvalidCapability);
        }
        Ok((info, entropy))
    };
    match before() {
        Ok((info, entropy)) => {
            let after = checks::payload(&beacon.report, entropy, info)
                .and_then(|()| physics_checks::beacon_power_limit(&beacon.report, info, inputs));
            (Ok(()), after)
        }
        // Never read: the beacon failed before its schedule.
        Err(reason) => (Err(reason), Ok(())),
    }
}

fn check_witnesses(
    beacon: &Received<BeaconReport>,
    beaconer: &PublicKey,
    beaconer_info: &HotspotInfo,
    ordered: &[&Received<WitnessReport>],
    inputs: &Inputs<'_>,
) -> Vec<WitnessVerdict> {
    let lag = Lag {
        beacon_ms: beacon.received_ms,
        first_witness_ms: ordered
            .iter()
            .map(|w| w.received_ms)
            .min()
            .unwrap_or(u64::MAX),
    };
    let entropy = inputs.entropy.get(&beacon.report.remote_entropy);
    let mut seen: HashSet<PublicKey> = HashSet::new();
    ordered
        .iter()
        .map(|w| {
            let witness = key_of(&w.report.hotspot_key);
            let regular = if witness == *beaconer {
                Err(Invalid::SelfWitness)
            } else if !seen.insert(witness) {
                Err(Invalid::Duplicate)
            } else {
                let subject = Subject {
                    beacon: &beacon.report,
                    beaconer: *beaconer,
                    beaconer_info,
                    entropy,
                    lag,
                };
                witness_regular(w, &witness, &subject, inputs)
            };
            let evidence = regular.as_ref().ok().map(|&distance_m| Evidence {
                distance_m,
                signal_ddbm: w.report.signal_ddbm,
            });
            WitnessVerdict {
                witness_id: w.id,
                witness,
                received_ms: w.received_ms,
                // Reciprocity and trust are judged later ([`judge_witness`]).
                outcome: regular
                    .map(|_| ())
                    .map_err(|reason| (Side::Witness, reason)),
                passed_regular: evidence.is_some(),
                evidence,
                selected: false,
                reward_units_e4: 0,
            }
        })
        .collect()
}

/// What a witness is checked against.
pub struct Subject<'a> {
    pub beacon: &'a BeaconReport,
    pub beaconer: PublicKey,
    pub beaconer_info: &'a HotspotInfo,
    pub entropy: Option<&'a EntropyInfo>,
    pub lag: Lag,
}

/// Witness-graph trust of `key`, when the check is on.
fn trusted(ctx: &Context<'_>, key: &PublicKey) -> Result<(), Invalid> {
    match ctx.trust {
        Some(table) if ctx.params.checks.graph_trust => {
            table.judge(key).map_err(Invalid::Untrusted)
        }
        _ => Ok(()),
    }
}

/// The witness's checks before reciprocity, in Helium's order (owner diversity, ours, right
/// after the denylist). Returns the asserted distance.
pub fn witness_regular(
    w: &Received<WitnessReport>,
    witness: &PublicKey,
    subject: &Subject<'_>,
    inputs: &Inputs<'_>,
) -> Result<u32, Invalid> {
    let params = inputs.params;
    let info = inputs
        .hotspots
        .get(witness)
        .ok_or(Invalid::GatewayNotFound)?;
    if let Some(entry) = inputs.denylist.key(witness, w.received_ms) {
        return Err(Invalid::Denied {
            reason: entry.reason.clone(),
        });
    }
    if let Some(entry) = inputs
        .denylist
        .edge(subject.beaconer, *witness, w.received_ms)
    {
        return Err(Invalid::DeniedEdge {
            reason: entry.reason.clone(),
        });
    }
    if params.checks.owner_diversity && info.owner == subject.beaconer_info.owner {
        return Err(Invalid::SameOwner);
    }
    checks::entropy(
        w.received_ms,
        subject.entropy.ok_or(Invalid::UnknownEntropy)?,
        params,
    )?;
    checks::lag(w.received_ms, subject.lag, params)?;
    if w.report.data != subject.beacon.data {
        return Err(Invalid::InvalidPacket {
            what: "witnessed payload",
        });
    }
    if !info.full_hotspot {
        return Err(Invalid::InvalidCapability);
    }
    checks::frequency(subject.beacon.frequency_hz, w.report.frequency_hz, params)?;
    if info.region.is_none() || info.region != subject.beaconer_info.region {
        return Err(Invalid::InvalidRegion);
    }
    checks::min_distance(subject.beaconer_info.location, info.location, params)?;
    let distance_m = checks::max_distance(subject.beaconer_info.location, info.location, params)?;
    checks::rssi(
        w.report.signal_ddbm,
        w.report.frequency_hz,
        subject.beacon.tx_power_ddbm,
        subject.beaconer_info.gain_ddbi,
        info.gain_ddbi,
        distance_m,
    )?;
    physics_checks::witness_radio(
        subject.beacon,
        subject.beaconer_info,
        &w.report,
        info,
        distance_m,
        inputs,
    )?;
    Ok(distance_m)
}
