//! The simulation report: per hotspot its beacons and witnesses (valid, selected, invalid by
//! reason), transmit scale and reward units; totals; and a readable table.

use crate::medium::MediumStats;
use crate::run::SimHotspot;
use crate::scenario::{Behaviour, ResolvedScenario};
use hotspot_agent::stats::{AgentStats, AgentStatsSnapshot};
use oracle::density::HexDensityMap;
use oracle::store::{Store, StoreError};
use oracle::verifier::VerifierParams;
use schemas::PublicKey;
use serde::Serialize;
use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::sync::Arc;

/// Counts of one kind of report.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct Outcomes {
    pub total: u64,
    pub valid: u64,
    /// Valid and rewarded (witnesses only; for beacons equal to `valid`).
    pub selected: u64,
    /// Invalid, by reason code.
    pub invalid: BTreeMap<String, u64>,
}

/// One hotspot's line of the report.
#[derive(Debug, Clone, Serialize)]
pub struct HotspotReport {
    pub name: String,
    pub key: String,
    pub owner: String,
    pub behaviour: Behaviour,
    pub lat: f64,
    pub lng: f64,
    pub asserted_lat: f64,
    pub asserted_lng: f64,
    pub beacons: Outcomes,
    pub witnesses: Outcomes,
    /// HIP 17 transmit scale at the end of the run (`None`: not active, default applies).
    pub transmit_scale: Option<f64>,
    /// HIP 15 reward units earned (beacons + witnesses).
    pub reward_units: f64,
    /// Reward units x the transmit scale they were earned at: what rewards are proportional to.
    pub scaled_reward_units: f64,
    pub agent: AgentStatsSnapshot,
}

/// Sums over all hotspots.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Totals {
    pub hotspots: usize,
    pub beacons: Outcomes,
    pub witnesses: Outcomes,
    pub reward_units: f64,
    pub scaled_reward_units: f64,
}

/// What the hotspots of one behaviour earned together.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct BehaviourShare {
    /// Hotspots with this behaviour.
    pub hotspots: usize,
    /// Their HIP 15 reward units.
    pub reward_units: f64,
    /// Their fraction of all reward units (0 when nobody earned).
    pub reward_share: f64,
    /// Their reward units x transmit scale.
    pub scaled_reward_units: f64,
    /// Their fraction of all scaled reward units.
    pub scaled_share: f64,
}

/// The whole report (the JSON written by `simulate --out`).
#[derive(Debug, Clone, Serialize)]
pub struct SimReport {
    pub scenario: Option<String>,
    pub seed: u64,
    pub region: String,
    pub simulated_seconds: u64,
    pub time_scale: f64,
    pub hotspots: Vec<HotspotReport>,
    pub totals: Totals,
    /// Per behaviour (`"honest"`, `"spoof_location"`, ...), present ones only.
    pub behaviours: BTreeMap<String, BehaviourShare>,
    pub medium: MediumStats,
}

/// Sums the hotspots' units by behaviour and their shares of the totals.
pub fn behaviour_shares(
    hotspots: &[HotspotReport],
    totals: &Totals,
) -> BTreeMap<String, BehaviourShare> {
    let mut shares: BTreeMap<String, BehaviourShare> = BTreeMap::new();
    for h in hotspots {
        let share = shares.entry(h.behaviour.as_str().to_owned()).or_default();
        share.hotspots += 1;
        share.reward_units += h.reward_units;
        share.scaled_reward_units += h.scaled_reward_units;
    }
    let fraction = |part: f64, whole: f64| if whole > 0.0 { part / whole } else { 0.0 };
    for share in shares.values_mut() {
        share.reward_share = fraction(share.reward_units, totals.reward_units);
        share.scaled_share = fraction(share.scaled_reward_units, totals.scaled_reward_units);
    }
    shares
}

fn add(outcomes: &mut Outcomes, valid: bool, selected: bool, reason: Option<&str>, count: u64) {
    outcomes.total += count;
    if valid {
        outcomes.valid += count;
        if selected {
            outcomes.selected += count;
        }
    } else {
        *outcomes
            .invalid
            .entry(reason.unwrap_or("unknown").to_string())
            .or_default() += count;
    }
}

fn merge(into: &mut Outcomes, from: &Outcomes) {
    into.total += from.total;
    into.valid += from.valid;
    into.selected += from.selected;
    for (reason, n) in &from.invalid {
        *into.invalid.entry(reason.clone()).or_default() += n;
    }
}

/// Builds the report from the oracle's stored verdicts.
#[allow(clippy::too_many_arguments)]
pub async fn build(
    scenario: &ResolvedScenario,
    hotspots: &[SimHotspot],
    store: &Store,
    params: &VerifierParams,
    agents: &[(PublicKey, Arc<AgentStats>)],
    medium: MediumStats,
    start_ms: u64,
    end_ms: u64,
) -> Result<SimReport, StoreError> {
    let mut per: HashMap<PublicKey, (Outcomes, Outcomes, u64, u64)> = HashMap::new();
    for c in store.verdict_counts().await? {
        let entry = per.entry(c.hotspot).or_default();
        let outcomes = if c.kind == "beacon" {
            &mut entry.0
        } else {
            &mut entry.1
        };
        add(
            outcomes,
            c.valid,
            c.selected || c.kind == "beacon",
            c.reason.as_deref(),
            c.count,
        );
        entry.2 += c.reward_units_e4;
        entry.3 += c.scaled_units_e8;
    }
    let scales = final_scales(store, params, hotspots, end_ms).await?;
    let agent_stats: HashMap<PublicKey, AgentStatsSnapshot> =
        agents.iter().map(|(k, s)| (*k, s.snapshot())).collect();
    let mut totals = Totals {
        hotspots: hotspots.len(),
        ..Totals::default()
    };
    let lines = hotspots
        .iter()
        .map(|h| {
            let key = h.key.public();
            let (beacons, witnesses, units, scaled) = per.remove(&key).unwrap_or_default();
            merge(&mut totals.beacons, &beacons);
            merge(&mut totals.witnesses, &witnesses);
            let reward_units = units as f64 / 1e4;
            let scaled_reward_units = scaled as f64 / 1e8;
            totals.reward_units += reward_units;
            totals.scaled_reward_units += scaled_reward_units;
            let (asserted_lat, asserted_lng) = h.spec.asserted_position();
            HotspotReport {
                name: h.spec.name.clone(),
                key: key.to_string(),
                owner: h.spec.owner_name(),
                behaviour: h.spec.behaviour,
                lat: h.spec.lat,
                lng: h.spec.lng,
                asserted_lat,
                asserted_lng,
                beacons,
                witnesses,
                transmit_scale: scales.get(&key).copied(),
                reward_units,
                scaled_reward_units,
                agent: agent_stats.get(&key).copied().unwrap_or_default(),
            }
        })
        .collect::<Vec<_>>();
    let behaviours = behaviour_shares(&lines, &totals);
    Ok(SimReport {
        scenario: scenario.name.clone(),
        seed: scenario.seed,
        region: scenario.region.clone(),
        simulated_seconds: end_ms.saturating_sub(start_ms) / 1000,
        time_scale: scenario.time_scale,
        hotspots: lines,
        totals,
        behaviours,
        medium,
    })
}

/// Transmit scales from the hotspots active at `end_ms` (a valid beacon with a valid witness
/// within the interactivity window), as the verifier would compute them next.
async fn final_scales(
    store: &Store,
    params: &VerifierParams,
    hotspots: &[SimHotspot],
    end_ms: u64,
) -> Result<HashMap<PublicKey, f64>, StoreError> {
    let horizon = end_ms.saturating_sub(params.interactivity_window.as_millis() as u64);
    let cells: HashMap<PublicKey, h3o::CellIndex> = hotspots
        .iter()
        .filter_map(|h| {
            let (lat, lng) = h.spec.asserted_position();
            let cell = h3o::LatLng::new(lat, lng)
                .ok()?
                .to_cell(h3o::Resolution::Twelve);
            Some((h.key.public(), cell))
        })
        .collect();
    let active: Vec<PublicKey> = store
        .hotspot_states()
        .await?
        .into_iter()
        .filter(|(_, state)| state.last_active_ms.is_some_and(|ms| ms >= horizon))
        .map(|(key, _)| key)
        .collect();
    let map = HexDensityMap::new(
        active.iter().filter_map(|k| cells.get(k).copied()),
        &params.density,
    );
    Ok(active
        .iter()
        .filter_map(|k| Some((*k, f64::from(map.scale_e4(*cells.get(k)?)?) / 1e4)))
        .collect())
}

fn outcome_cell(o: &Outcomes) -> String {
    format!("{}/{}", o.valid, o.total)
}

fn top_reasons(o: &Outcomes) -> String {
    let mut reasons: Vec<(&String, &u64)> = o.invalid.iter().collect();
    reasons.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
    reasons
        .iter()
        .take(2)
        .map(|(r, n)| format!("{r} {n}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The readable summary table.
pub fn table(report: &SimReport) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:<22} {:<16} {:>8} {:>9} {:>9} {:>6} {:>7} {:>8}  invalid witnesses (top reasons)",
        "hotspot", "owner", "beacons", "witnessed", "selected", "scale", "units", "scaled"
    );
    for h in &report.hotspots {
        let name: String = h.name.chars().take(22).collect();
        let owner: String = h.owner.chars().take(16).collect();
        let scale = h
            .transmit_scale
            .map_or_else(|| "-".to_string(), |s| format!("{s:.4}"));
        let _ = writeln!(
            out,
            "{name:<22} {owner:<16} {:>8} {:>9} {:>9} {scale:>6} {:>7.2} {:>8.4}  {}",
            outcome_cell(&h.beacons),
            outcome_cell(&h.witnesses),
            h.witnesses.selected,
            h.reward_units,
            h.scaled_reward_units,
            top_reasons(&h.witnesses)
        );
    }
    let t = &report.totals;
    let _ = writeln!(
        out,
        "\n{} hotspots, {} s simulated: beacons {} valid of {}; witnesses {} valid ({} selected) of {}; reward units {:.2} (scaled {:.4})",
        t.hotspots,
        report.simulated_seconds,
        t.beacons.valid,
        t.beacons.total,
        t.witnesses.valid,
        t.witnesses.selected,
        t.witnesses.total,
        t.reward_units,
        t.scaled_reward_units
    );
    let _ = writeln!(out, "invalid beacons: {}", reasons_line(&t.beacons));
    let _ = writeln!(out, "invalid witnesses: {}", reasons_line(&t.witnesses));
    let _ = writeln!(
        out,
        "\n{:<16} {:>8} {:>8} {:>7} {:>10} {:>7}",
        "behaviour", "hotspots", "units", "share", "scaled", "share"
    );
    for (behaviour, b) in &report.behaviours {
        let _ = writeln!(
            out,
            "{behaviour:<16} {:>8} {:>8.2} {:>6.1}% {:>10.4} {:>6.1}%",
            b.hotspots,
            b.reward_units,
            b.reward_share * 100.0,
            b.scaled_reward_units,
            b.scaled_share * 100.0
        );
    }
    out
}

fn reasons_line(o: &Outcomes) -> String {
    if o.invalid.is_empty() {
        return "none".to_string();
    }
    o.invalid
        .iter()
        .map(|(r, n)| format!("{r} {n}"))
        .collect::<Vec<_>>()
        .join(", ")
}
