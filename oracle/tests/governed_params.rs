//! Governance parameters in the oracle: once a parameter set is applied (a row of
//! `parameter_sets`, as `rewards governance apply` writes it), the verifier judges each epoch
//! under the set in force for it. A witness heard in epoch E-1 is judged under the oracle's
//! settings (no set covers E-1); the same witness geometry in epoch E under the set effective
//! at E, which lowers `max_distance_km` to 1. End to end over QUIC, on SQLite and PostgreSQL.

use h3o::{LatLng, Resolution};
use oracle::node::Oracle;
use oracle::settings::Settings;
use schemas::Keypair;
use schemas::beacon::{self, RemoteEntropy};
use schemas::clock::{ScaledClock, SharedClock};
use schemas::parameters::ParameterSet;
use schemas::proto::{
    BeaconReport, Entropy, EntropyRequest, LocationAssertion, RejectReason, Request, Response,
    WitnessReport, request, response,
};
use schemas::region::{Region, channel_plan};
use schemas::sign::SingleSigned;
use sqlx::Row;
use std::sync::Arc;
use std::time::Duration;

const TIMEOUT: Duration = Duration::from_secs(10);
const DAY_MS: u64 = 24 * 3600 * 1000;
/// The epoch whose parameters change.
const EPOCH: u64 = 20_779;

async fn send(conn: &quinn::Connection, msg: request::Msg) -> Response {
    transport::call(conn, &Request { msg: Some(msg) }, TIMEOUT)
        .await
        .expect("call")
}

fn acked_ms(response: &Response) -> u64 {
    match &response.msg {
        Some(response::Msg::Ack(a)) => a.received_ms,
        other => panic!("expected an ack, got {other:?}"),
    }
}

async fn onboard(conn: &quinn::Connection, seed: u8, lat: f64, lng: f64, now_ms: u64) -> Keypair {
    let key = Keypair::from_seed([seed; 32]);
    let owner = Keypair::from_seed([seed + 100; 32]);
    let cell = LatLng::new(lat, lng)
        .expect("coords")
        .to_cell(Resolution::Twelve);
    let assertion = LocationAssertion::new_signed(&key, &owner, u64::from(cell), 30, 5, now_ms);
    acked_ms(&send(conn, request::Msg::AssertLocation(assertion)).await);
    key
}

/// The current entropy; waits for the first one a just-started oracle publishes.
async fn entropy(conn: &quinn::Connection) -> Entropy {
    let deadline = tokio::time::Instant::now() + TIMEOUT;
    loop {
        match send(conn, request::Msg::Entropy(EntropyRequest {}))
            .await
            .msg
        {
            Some(response::Msg::Entropy(e)) => return e,
            Some(response::Msg::Rejection(r))
                if r.reason == RejectReason::NoEntropy as i32
                    && tokio::time::Instant::now() < deadline =>
            {
                tokio::time::sleep(Duration::from_millis(10)).await
            }
            other => panic!("expected entropy, got {other:?}"),
        }
    }
}

fn beacon(key: &Keypair, entropy: &Entropy, local: [u8; 4], now_ms: u64) -> BeaconReport {
    let remote = RemoteEntropy {
        data: &entropy.data,
        timestamp_ms: entropy.timestamp_ms,
        version: entropy.version,
    };
    let derived = beacon::derive(
        remote,
        &local,
        channel_plan(Region::Us915).expect("plan"),
        30,
    )
    .expect("derive");
    let mut report = BeaconReport {
        local_entropy: local.to_vec(),
        remote_entropy: entropy.data.clone(),
        data: derived.data,
        frequency_hz: derived.frequency_hz,
        datarate: derived.datarate as i32,
        tx_power_ddbm: derived.max_conducted_power_dbm * 10,
        timestamp_ms: now_ms,
        ..Default::default()
    };
    report.sign_with(key);
    report
}

fn witness(key: &Keypair, beacon: &BeaconReport, now_ms: u64) -> WitnessReport {
    let mut report = WitnessReport {
        data: beacon.data.clone(),
        timestamp_ms: now_ms,
        signal_ddbm: -1000,
        snr_ddb: 50,
        frequency_hz: beacon.frequency_hz,
        datarate: beacon.datarate,
        ..Default::default()
    };
    report.sign_with(key);
    report
}

async fn wait_for_pocs(oracle: &Oracle, pocs: u64) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while oracle.verifier_stats().pocs < pocs {
        assert!(
            tokio::time::Instant::now() < deadline,
            "verifier did not close the proof of coverage in time"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Stores governance version 2, effective at `EPOCH`: the same switches as the oracle's
/// settings, but witnesses farther than 1 km are refused.
async fn apply_version_2(database_url: &str) {
    let db = db::Db::connect(database_url).await.expect("db");
    let set = ParameterSet {
        version: 2,
        effective_epoch: EPOCH,
        verifier: toml::from_str(
            "ruleset = \"default\"\nmax_distance_km = 1\n[checks]\nreciprocity = false\ngraph_trust = false",
        )
        .expect("toml"),
        ..ParameterSet::default()
    };
    db::test_support::apply_parameters(db.pool(), &set)
        .await
        .expect("insert");
    db.close().await;
}

async fn scenario(database_url: String, db_name: &str) {
    apply_version_2(&database_url).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let mut settings = Settings {
        data_dir: dir.path().to_path_buf(),
        database_url,
        listen: "127.0.0.1:0".parse().expect("addr"),
        ..Settings::default()
    };
    // A single beacon must verify validly (see tests/ingest.rs).
    settings.verifier.checks.reciprocity = false;
    settings.verifier.checks.graph_trust = false;
    // Two simulated minutes before epoch EPOCH starts, 20 times real time.
    let boundary_ms = EPOCH * DAY_MS;
    let clock: SharedClock = Arc::new(ScaledClock::new((boundary_ms - 120_000) * 1_000_000, 20.0));
    let oracle = Oracle::start(&settings, Keypair::from_seed([1; 32]), Arc::clone(&clock))
        .await
        .expect("oracle starts");
    let mut endpoint = transport::client_endpoint().expect("client endpoint");
    endpoint.set_default_client_config(
        transport::client_config(oracle.public_key, transport::ALPN_ORACLE).expect("config"),
    );
    let conn = endpoint
        .connect(oracle.addr, "coverage-proof")
        .expect("connect")
        .await
        .expect("handshake");

    // A beaconer and a witness 2 km north of it.
    let now = clock.now_ms();
    let beaconer = onboard(&conn, 30, 37.7749, -122.4194, now).await;
    let far = onboard(&conn, 31, 37.7929, -122.4194, now).await;

    let first = beacon(
        &beaconer,
        &entropy(&conn).await,
        [1, 2, 3, 4],
        clock.now_ms(),
    );
    let first_ms = acked_ms(&send(&conn, request::Msg::Beacon(first.clone())).await);
    acked_ms(
        &send(
            &conn,
            request::Msg::Witness(witness(&far, &first, clock.now_ms())),
        )
        .await,
    );
    assert!(
        first_ms < boundary_ms,
        "{db_name}: the first beacon is in epoch E-1"
    );
    wait_for_pocs(&oracle, 1).await;

    while clock.now_ms() < boundary_ms + 500 {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let second = beacon(
        &beaconer,
        &entropy(&conn).await,
        [5, 6, 7, 8],
        clock.now_ms(),
    );
    let second_ms = acked_ms(&send(&conn, request::Msg::Beacon(second.clone())).await);
    acked_ms(
        &send(
            &conn,
            request::Msg::Witness(witness(&far, &second, clock.now_ms())),
        )
        .await,
    );
    assert!(
        second_ms >= boundary_ms,
        "{db_name}: the second beacon is in epoch E"
    );
    wait_for_pocs(&oracle, 2).await;

    let rows = sqlx::query(
        "SELECT epoch, valid, reason, threshold FROM witness_verdicts ORDER BY received_ms",
    )
    .fetch_all(oracle.store.db().pool())
    .await
    .expect("verdicts");
    let verdicts: Vec<(i64, i64, Option<String>, Option<f64>)> = rows
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3)))
        .collect();
    assert_eq!(
        verdicts,
        vec![
            (EPOCH as i64 - 1, 1, None, None),
            (
                EPOCH as i64,
                0,
                Some("max_distance_exceeded".to_string()),
                Some(1000.0) // metres
            ),
        ],
        "{db_name}: E-1 under the settings (100 km), E under governance version 2 (1 km)"
    );
    oracle.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_change_applies_from_its_epoch_on_sqlite() {
    let db = db::test_support::sqlite().await.expect("sqlite");
    scenario(db.url.clone(), db.name).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_change_applies_from_its_epoch_on_postgres() {
    let db = db::test_support::postgres().await.expect("postgres");
    scenario(db.url.clone(), db.name).await;
}

#[tokio::test]
async fn an_oracle_with_another_epoch_length_refuses_to_start() {
    let db = db::test_support::sqlite().await.expect("sqlite");
    let dir = tempfile::tempdir().expect("tempdir");
    let mut settings = Settings {
        data_dir: dir.path().to_path_buf(),
        database_url: db.url.clone(),
        listen: "127.0.0.1:0".parse().expect("addr"),
        ..Settings::default()
    };
    settings.verifier.epoch = Duration::from_secs(3600);
    let clock: SharedClock = Arc::new(ScaledClock::new(EPOCH * DAY_MS * 1_000_000, 1.0));
    match Oracle::start(&settings, Keypair::from_seed([1; 32]), clock).await {
        Err(oracle::node::StartError::Parameters(e)) => {
            assert!(e.to_string().contains("verifier.epoch is 1h"), "{e}")
        }
        Err(other) => panic!("wrong error: {other}"),
        Ok(_) => panic!("an oracle with 1 h epochs started under 24 h governance epochs"),
    }
}
