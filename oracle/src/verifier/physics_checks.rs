//! The verifier's use of [`crate::physics`]: two-sided radio plausibility for each witness, the
//! beacon's transmit power (region limit and consistency with what its witnesses hear), and
//! time of flight (beacon origin and witness timestamps). Only under `checks.radio_physics` /
//! `checks.time_of_flight` (the `default` ruleset).

use super::poc::{HotspotInfo, Inputs, Received, WitnessVerdict};
use super::reason::{Invalid, Side};
use crate::physics::radio::{self, Reception, Transmission};
use crate::physics::tdoa::{self, GeoPoint, TimedWitness};
use h3o::{CellIndex, LatLng};
use schemas::proto::{BeaconReport, DataRate, WitnessReport};
use schemas::region::channel_plan;

/// What the beaconer says it transmitted.
pub fn transmission(beacon: &BeaconReport, beaconer: &HotspotInfo) -> Transmission {
    Transmission {
        tx_power_dbm: f64::from(beacon.tx_power_ddbm) / 10.0,
        gain_dbi: f64::from(beaconer.gain_ddbi) / 10.0,
        datarate: DataRate::try_from(beacon.datarate).unwrap_or(DataRate::Unspecified),
    }
}

/// What a witness says it heard, at the asserted distance.
pub fn reception(w: &WitnessReport, witness: &HotspotInfo, distance_m: u32) -> Reception {
    Reception {
        distance_m: f64::from(distance_m),
        freq_hz: w.frequency_hz,
        datarate: DataRate::try_from(w.datarate).unwrap_or(DataRate::Unspecified),
        rssi_dbm: f64::from(w.signal_ddbm) / 10.0,
        snr_db: f64::from(w.snr_ddb) / 10.0,
        gain_dbi: f64::from(witness.gain_ddbi) / 10.0,
    }
}

/// A witness's radio plausibility (RSSI lower bound, SNR, sensitivity, datarate).
pub fn witness_radio(
    beacon: &BeaconReport,
    beaconer: &HotspotInfo,
    w: &WitnessReport,
    witness: &HotspotInfo,
    distance_m: u32,
    ctx: &Inputs<'_>,
) -> Result<(), Invalid> {
    if !ctx.params.checks.radio_physics {
        return Ok(());
    }
    radio::check_reception(
        &transmission(beacon, beaconer),
        &reception(w, witness, distance_m),
        &ctx.params.physics,
    )
    .map_err(Invalid::Physics)
}

/// The beacon's reported power against its region's limit.
pub fn beacon_power_limit(
    beacon: &BeaconReport,
    beaconer: &HotspotInfo,
    ctx: &Inputs<'_>,
) -> Result<(), Invalid> {
    if !ctx.params.checks.radio_physics {
        return Ok(());
    }
    let Some(plan) = beaconer.region.and_then(|r| channel_plan(r).ok()) else {
        return Ok(());
    };
    let max_eirp_dbm = f64::from(plan.max_eirp_ddbm()) / 10.0;
    radio::check_tx_power_limit(
        &transmission(beacon, beaconer),
        max_eirp_dbm,
        &ctx.params.physics,
    )
    .map_err(Invalid::Physics)
}

fn position(cell: CellIndex) -> GeoPoint {
    let ll = LatLng::from(cell);
    GeoPoint {
        lat: ll.lat(),
        lng: ll.lng(),
    }
}

/// The checks that need every witness: transmit power consistency and time of flight. A witness
/// whose timestamp contradicts its asserted position is marked invalid here; an error means the
/// beacon itself failed.
pub fn beacon_with_witnesses(
    beacon: &Received<BeaconReport>,
    beaconer: &HotspotInfo,
    ordered: &[&Received<WitnessReport>],
    verdicts: &mut [WitnessVerdict],
    ctx: &Inputs<'_>,
) -> Result<(), Invalid> {
    let regular: Vec<(usize, &HotspotInfo)> = verdicts
        .iter()
        .enumerate()
        .filter(|(_, v)| v.passed_regular)
        .filter_map(|(i, v)| ctx.hotspots.get(&v.witness).map(|info| (i, info)))
        .collect();
    if ctx.params.checks.radio_physics {
        let receptions: Vec<Reception> = regular
            .iter()
            .filter_map(|(i, info)| {
                Some(reception(
                    &ordered[*i].report,
                    info,
                    verdicts[*i].evidence?.distance_m,
                ))
            })
            .collect();
        radio::check_tx_power_consistency(
            &transmission(&beacon.report, beaconer),
            &receptions,
            &ctx.params.physics,
        )
        .map_err(Invalid::Physics)?;
    }
    if ctx.params.checks.time_of_flight {
        time_of_flight(beaconer, ordered, verdicts, &regular, ctx)?;
    }
    Ok(())
}

fn time_of_flight(
    beaconer: &HotspotInfo,
    ordered: &[&Received<WitnessReport>],
    verdicts: &mut [WitnessVerdict],
    regular: &[(usize, &HotspotInfo)],
    ctx: &Inputs<'_>,
) -> Result<(), Invalid> {
    let timed: Vec<(usize, TimedWitness)> = regular
        .iter()
        .filter(|(i, _)| ordered[*i].report.radio_timestamp_ns != 0)
        .map(|(i, info)| {
            (
                *i,
                TimedWitness {
                    position: position(info.location),
                    radio_timestamp_ns: ordered[*i].report.radio_timestamp_ns,
                },
            )
        })
        .collect();
    let witnesses: Vec<TimedWitness> = timed.iter().map(|(_, t)| *t).collect();
    let Ok(fix) = tdoa::locate_beacon(position(beaconer.location), &witnesses, &ctx.params.tdoa)
    else {
        return Ok(()); // not enough witnesses or geometry: no verdict
    };
    if let Err(violation) = tdoa::check_beacon_origin(&fix) {
        // The beacon did not come from its asserted location, so every distance to it is
        // false: its witnesses' reports are no evidence for witness-graph trust (a real, strong
        // signal "from" a far assertion would make honest witnesses look as if their RSSI
        // ignored distance). They still heard a real beacon, so HIP 106 state is unchanged.
        for verdict in verdicts.iter_mut() {
            verdict.evidence = None;
        }
        return Err(Invalid::Physics(violation));
    }
    for (index, violation) in tdoa::witness_timing_violations(&fix) {
        if let Some((i, _)) = timed.get(index) {
            let verdict = &mut verdicts[*i];
            verdict.outcome = Err((Side::Witness, Invalid::Physics(violation)));
            verdict.passed_regular = false;
            verdict.evidence = None;
        }
    }
    Ok(())
}
