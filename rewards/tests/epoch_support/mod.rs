//! Seeds an oracle database the way the oracle writes it: signed location assertions, signed
//! beacon and witness reports, and verdict rows with realistic values (HIP 17 scales, HIP 15
//! units for the number of selected witnesses, invalid and unselected witnesses).

#![allow(dead_code)]

use prost::Message;
use schemas::Keypair;
use schemas::parameters::ParameterSet;
use schemas::proto::{BeaconReport, LocationAssertion, WitnessReport};
use schemas::sign::SingleSigned;
use sqlx::AnyPool;

/// The epoch the tests reward (2024-10-04, long ended).
pub const EPOCH: u64 = 20_000;
pub const DAY_MS: u64 = 86_400_000;

/// A hotspot of the test network.
pub struct Hotspot {
    pub key: Keypair,
    pub owner: Keypair,
    pub location: u64,
}

/// Real res-12 cells around Livermore, CA (the demo's neighbourhood) and one 20 km away.
pub fn cell(lat: f64, lng: f64) -> u64 {
    let ll = h3o::LatLng::new(lat, lng).expect("lat/lng");
    u64::from(ll.to_cell(h3o::Resolution::Twelve))
}

/// Eight hotspots, five owners; keys derive from fixed seeds, so every database gets the
/// same network.
pub fn network() -> Vec<Hotspot> {
    let places = [
        (37.6856, -121.7741),
        (37.6870, -121.7700),
        (37.6901, -121.7655),
        (37.6822, -121.7803),
        (37.6950, -121.7590),
        (37.7012, -121.7420),
        (37.6790, -121.7900),
        (37.8600, -121.9500), // sparse, 20 km north-west
    ];
    places
        .iter()
        .enumerate()
        .map(|(i, (lat, lng))| Hotspot {
            key: Keypair::from_seed([i as u8 + 1; 32]),
            owner: Keypair::from_seed([100 + (i % 5) as u8; 32]),
            location: cell(*lat, *lng),
        })
        .collect()
}

async fn exec(pool: &AnyPool, query: sqlx::query::Query<'_, sqlx::Any, sqlx::any::AnyArguments>) {
    query.execute(pool).await.expect("seed insert");
}

/// Stores each hotspot's signed location assertion, received `at_ms`.
pub async fn assert_locations(pool: &AnyPool, hotspots: &[Hotspot], at_ms: u64) {
    for h in hotspots {
        assert_location(pool, h, h.location, at_ms).await;
    }
}

/// Stores one signed assertion (and makes it the one in force, as the oracle does).
pub async fn assert_location(pool: &AnyPool, h: &Hotspot, location: u64, at_ms: u64) {
    let assertion = LocationAssertion::new_signed(&h.key, &h.owner, location, 30, 5, at_ms);
    exec(
        pool,
        sqlx::query("INSERT INTO assertions (id, hotspot_key, received_ms, message) VALUES ($1, $2, $3, $4)")
            .bind(schemas::message_id(&assertion).to_vec())
            .bind(h.key.public().to_vec())
            .bind(at_ms as i64)
            .bind(assertion.encode_to_vec()),
    )
    .await;
    exec(
        pool,
        sqlx::query(
            "INSERT INTO hotspots (hotspot_key, owner_key, location, gain_ddbi, elevation_m, asserted_ms) \
             VALUES ($1, $2, $3, 30, 5, $4) ON CONFLICT (hotspot_key) DO UPDATE SET owner_key = excluded.owner_key, \
             location = excluded.location, asserted_ms = excluded.asserted_ms",
        )
        .bind(h.key.public().to_vec())
        .bind(h.owner.public().to_vec())
        .bind(location as i64)
        .bind(at_ms as i64),
    )
    .await;
}

/// A witness of a proof of coverage and its verdict.
pub struct Witnessed<'a> {
    pub hotspot: &'a Hotspot,
    pub valid: bool,
    pub selected: bool,
}

/// HIP 15 units (1e-4) for `w <= 4` selected witnesses: beaconer `w / 4`, each witness 1.
fn units(selected: u32) -> (i64, i64) {
    (
        i64::from(selected) * 2_500,
        if selected > 0 { 10_000 } else { 0 },
    )
}

/// Stores a signed beacon report, its signed witness reports and their verdicts, as the
/// oracle's `save_poc` does. Returns the beacon id.
pub async fn poc(
    pool: &AnyPool,
    beaconer: &Hotspot,
    received_ms: u64,
    hex_scale_e4: i64,
    witnesses: &[Witnessed<'_>],
) -> [u8; 32] {
    let epoch = (received_ms / DAY_MS) as i64;
    let data: Vec<u8> = (0..51)
        .map(|i| (received_ms as u8).wrapping_add(i))
        .collect();
    let mut beacon = BeaconReport {
        local_entropy: vec![1, 2, 3, 4],
        remote_entropy: vec![9; 32],
        data: data.clone(),
        frequency_hz: 904_300_000,
        tx_power_ddbm: 270,
        timestamp_ms: received_ms - 40,
        ..Default::default()
    };
    beacon.sign_with(&beaconer.key);
    let beacon_id = schemas::message_id(&beacon);
    exec(
        pool,
        sqlx::query("INSERT INTO beacon_reports (id, hotspot_key, data, received_ms, message) VALUES ($1, $2, $3, $4, $5)")
            .bind(beacon_id.to_vec())
            .bind(beaconer.key.public().to_vec())
            .bind(data.clone())
            .bind(received_ms as i64)
            .bind(beacon.encode_to_vec()),
    )
    .await;
    let selected = witnesses.iter().filter(|w| w.valid && w.selected).count() as u32;
    let valid_witnesses = witnesses.iter().filter(|w| w.valid).count() as i64;
    let (beacon_units, witness_units) = units(selected);
    exec(
        pool,
        sqlx::query(
            "INSERT INTO pocs (minute, beacon_id, beaconer_key, epoch, received_ms, valid, reason, measured, threshold, detail, \
             location, hex_scale_e4, reward_units_e4, witness_reports, valid_witnesses, selected_witnesses, passed_regular, \
             state_flags) VALUES ($11, $1, $2, $3, $4, 1, NULL, NULL, NULL, NULL, $5, $6, $7, $8, $9, $10, 1, 7)",
        )
        .bind(beacon_id.to_vec())
        .bind(beaconer.key.public().to_vec())
        .bind(epoch)
        .bind(received_ms as i64)
        .bind(beaconer.location as i64)
        .bind(hex_scale_e4)
        .bind(beacon_units)
        .bind(witnesses.len() as i64)
        .bind(valid_witnesses)
        .bind(i64::from(selected))
        .bind(db::verdict_minute(received_ms)),
    )
    .await;
    for (i, w) in witnesses.iter().enumerate() {
        let at = received_ms + 150 + i as u64 * 20;
        let mut report = WitnessReport {
            data: data.clone(),
            timestamp_ms: at - 30,
            signal_ddbm: -1_050 - i as i32 * 30,
            snr_ddb: 55,
            frequency_hz: 904_300_000,
            ..Default::default()
        };
        report.sign_with(&w.hotspot.key);
        let witness_id = schemas::message_id(&report);
        exec(
            pool,
            sqlx::query("INSERT INTO witness_reports (id, hotspot_key, data, received_ms, message) VALUES ($1, $2, $3, $4, $5)")
                .bind(witness_id.to_vec())
                .bind(w.hotspot.key.public().to_vec())
                .bind(data.clone())
                .bind(at as i64)
                .bind(report.encode_to_vec()),
        )
        .await;
        let reason = (!w.valid).then_some("witness_too_close");
        exec(
            pool,
            sqlx::query(
                "INSERT INTO witness_verdicts (minute, witness_id, beacon_id, witness_key, beaconer_key, epoch, received_ms, \
                 valid, reason, side, measured, threshold, detail, selected, hex_scale_e4, reward_units_e4, passed_regular) \
                 VALUES ($13, $1, $2, $3, $4, $5, $6, $7, $8, NULL, NULL, NULL, NULL, $9, $10, $11, $12)",
            )
            .bind(witness_id.to_vec())
            .bind(beacon_id.to_vec())
            .bind(w.hotspot.key.public().to_vec())
            .bind(beaconer.key.public().to_vec())
            .bind(epoch)
            .bind(at as i64)
            .bind(i64::from(w.valid))
            .bind(reason)
            .bind(i64::from(w.valid && w.selected))
            .bind(hex_scale_e4)
            .bind(if w.valid && w.selected { witness_units } else { 0 })
            .bind(i64::from(w.valid))
            .bind(db::verdict_minute(at)),
        )
        .await;
    }
    beacon_id
}

/// A day of activity in `epoch`: every hotspot beacons twice; neighbours witness (the sparse
/// hotspot at full scale, the dense ones at HIP 17 scales below 1), with one invalid and one
/// unselected witness.
pub async fn day(pool: &AnyPool, net: &[Hotspot], epoch: u64) {
    let start = epoch * DAY_MS;
    let scales = [2_500i64, 2_500, 1_667, 2_500, 5_000, 10_000, 5_000, 10_000];
    for round in 0..2u64 {
        for (i, beaconer) in net.iter().enumerate() {
            let at = start + 3_600_000 * (1 + round * 10 + i as u64);
            let mut witnesses: Vec<Witnessed> = (1..=3)
                .map(|k| Witnessed {
                    hotspot: &net[(i + k) % net.len()],
                    valid: true,
                    selected: true,
                })
                .collect();
            if i == 2 {
                witnesses.push(Witnessed {
                    hotspot: &net[6],
                    valid: false,
                    selected: false,
                });
            }
            if i == 3 && round == 1 {
                witnesses.push(Witnessed {
                    hotspot: &net[7],
                    valid: true,
                    selected: false,
                });
            }
            poc(pool, beaconer, at, scales[i], &witnesses).await;
        }
    }
}

/// The genesis parameter set of the test network: the defaults with emission starting 100
/// epochs before [`EPOCH`] (the built-in default starts in 2026, after [`EPOCH`]).
pub fn genesis() -> ParameterSet {
    let mut set = ParameterSet::default();
    set.emission.genesis_epoch = EPOCH - 100;
    set
}

/// Applies a parameter set (as governance would, signatures aside).
pub async fn apply(pool: &AnyPool, set: &ParameterSet) {
    db::test_support::apply_parameters(pool, set)
        .await
        .expect("apply parameters");
}

/// The test genesis set, a network with its assertions (a year before the epoch) and one day
/// of activity.
pub async fn seed(pool: &AnyPool, epoch: u64) -> Vec<Hotspot> {
    apply(pool, &genesis()).await;
    let net = network();
    assert_locations(pool, &net, (epoch - 365) * DAY_MS).await;
    day(pool, &net, epoch).await;
    net
}
