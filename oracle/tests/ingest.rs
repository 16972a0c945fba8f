//! The oracle end to end over real QUIC on loopback, with real signatures and a real database
//! (SQLite and PostgreSQL): onboarding, entropy, beacon and witness ingest, idempotent
//! resubmission, typed rejections of bad input while other agents keep being served, and the
//! stored verdicts.

use h3o::{LatLng, Resolution};
use oracle::node::Oracle;
use oracle::settings::Settings;
use oracle::verifier::VerifierParams;
use prost::Message;
use schemas::beacon::{self, RemoteEntropy};
use schemas::clock::{ScaledClock, SharedClock};
use schemas::proto::{
    BeaconReport, Entropy, EntropyRequest, LocationAssertion, RejectReason, Report, ReportBatch,
    Request, Response, WitnessReport, report, report_result, request, response,
};
use schemas::region::{Region, channel_plan};
use schemas::sign::SingleSigned;
use schemas::{Keypair, PublicKey};
use sqlx::Row;
use std::sync::Arc;
use std::time::Duration;

const TIMEOUT: Duration = Duration::from_secs(10);

async fn connect(oracle: &Oracle) -> quinn::Connection {
    let mut endpoint = transport::client_endpoint().expect("client endpoint");
    endpoint.set_default_client_config(
        transport::client_config(oracle.public_key, transport::ALPN_ORACLE).expect("config"),
    );
    endpoint
        .connect(oracle.addr, "coverage-proof")
        .expect("connect")
        .await
        .expect("handshake")
}

async fn send(conn: &quinn::Connection, msg: request::Msg) -> Response {
    transport::call(conn, &Request { msg: Some(msg) }, TIMEOUT)
        .await
        .expect("call")
}

async fn send_raw(conn: &quinn::Connection, bytes: &[u8]) -> Response {
    let (mut tx, mut rx) = conn.open_bi().await.expect("open");
    // The server may stop reading an oversized request early; a write error is fine then.
    let _ = tx.write_all(bytes).await;
    let _ = tx.finish();
    let bytes = transport::read_message(&mut rx, 1 << 20)
        .await
        .expect("response");
    Response::decode(bytes.as_slice()).expect("decode")
}

fn rejection(response: &Response) -> Option<RejectReason> {
    match &response.msg {
        Some(response::Msg::Rejection(r)) => RejectReason::try_from(r.reason).ok(),
        _ => None,
    }
}

fn ack(response: &Response) -> (bool, u64) {
    match &response.msg {
        Some(response::Msg::Ack(a)) => (a.duplicate, a.received_ms),
        other => panic!("expected an ack, got {other:?}"),
    }
}

fn cell(lat: f64, lng: f64) -> u64 {
    u64::from(
        LatLng::new(lat, lng)
            .expect("coords")
            .to_cell(Resolution::Twelve),
    )
}

struct Hotspot {
    key: Keypair,
    location: u64,
}

async fn onboard(conn: &quinn::Connection, seed: u8, lat: f64, lng: f64, now_ms: u64) -> Hotspot {
    let key = Keypair::from_seed([seed; 32]);
    let owner = Keypair::from_seed([seed + 100; 32]);
    let location = cell(lat, lng);
    let assertion = LocationAssertion::new_signed(&key, &owner, location, 30, 5, now_ms);
    let (duplicate, _) = ack(&send(conn, request::Msg::AssertLocation(assertion.clone())).await);
    assert!(!duplicate);
    let (duplicate, _) = ack(&send(conn, request::Msg::AssertLocation(assertion)).await);
    assert!(
        duplicate,
        "the same assertion again is acknowledged as a duplicate"
    );
    Hotspot { key, location }
}

async fn run_scenario(database_url: String, db_name: &str) {
    let dir = tempfile::tempdir().expect("tempdir");
    let settings = ingest_settings(dir.path(), database_url);
    let clock: SharedClock = Arc::new(ScaledClock::new(1_763_800_000_000_000_000, 20.0));
    let oracle = Oracle::start(&settings, Keypair::from_seed([1; 32]), Arc::clone(&clock))
        .await
        .expect("oracle starts");
    let conn = connect(&oracle).await;
    let other_agent = connect(&oracle).await;

    // San Francisco: a beaconer, a witness 2 km away and one 100 m away.
    let now = clock.now_ms();
    let beaconer = onboard(&conn, 10, 37.7749, -122.4194, now).await;
    let far = onboard(&conn, 11, 37.7929, -122.4194, now).await;
    let near = onboard(&conn, 12, 37.7758, -122.4194, now).await;

    let entropy = match send(&conn, request::Msg::Entropy(EntropyRequest {}))
        .await
        .msg
    {
        Some(response::Msg::Entropy(e)) => e,
        other => panic!("expected entropy, got {other:?}"),
    };
    assert_eq!(
        entropy.verify(),
        Ok(oracle.public_key),
        "entropy is signed by the pinned key"
    );

    let beacon = make_beacon(&beaconer, &entropy, clock.now_ms());
    let (duplicate, first_received) = ack(&send(&conn, request::Msg::Beacon(beacon.clone())).await);
    assert!(!duplicate);
    let (duplicate, again_received) = ack(&send(&conn, request::Msg::Beacon(beacon.clone())).await);
    assert!(
        duplicate,
        "an exact resubmission is acknowledged idempotently"
    );
    assert_eq!(again_received, first_received);

    // Bad input on one connection, while another agent keeps being served.
    assert_eq!(
        rejection(&send_raw(&conn, b"\xff\xff\xff garbage").await),
        Some(RejectReason::Malformed)
    );
    let full = Request {
        msg: Some(request::Msg::Beacon(beacon.clone())),
    }
    .encode_to_vec();
    assert_eq!(
        rejection(&send_raw(&conn, &full[..full.len() / 2]).await),
        Some(RejectReason::Malformed)
    );
    assert_eq!(
        rejection(&send_raw(&conn, &vec![0u8; 200 * 1024]).await),
        Some(RejectReason::TooLarge)
    );
    let mut forged = beacon.clone();
    forged.tx_power_ddbm += 10;
    assert_eq!(
        rejection(&send(&conn, request::Msg::Beacon(forged)).await),
        Some(RejectReason::BadSignature)
    );
    let mut stranger = beacon.clone();
    stranger.sign_with(&Keypair::from_seed([99; 32]));
    assert_eq!(
        rejection(&send(&conn, request::Msg::Beacon(stranger)).await),
        Some(RejectReason::UnknownHotspot)
    );
    let mut short = beacon.clone();
    short.data.truncate(50);
    short.sign_with(&beaconer.key);
    assert_eq!(
        rejection(&send(&conn, request::Msg::Beacon(short)).await),
        Some(RejectReason::InvalidField)
    );
    assert_eq!(
        rejection(&send_raw(&conn, &Request { msg: None }.encode_to_vec()).await),
        Some(RejectReason::Malformed)
    );

    let good = make_witness(&far, &beacon, -1000, clock.now_ms());
    let (duplicate, _) = ack(&send(&other_agent, request::Msg::Witness(good)).await);
    assert!(!duplicate);
    let too_close = make_witness(&near, &beacon, -500, clock.now_ms());
    ack(&send(&other_agent, request::Msg::Witness(too_close)).await);

    // Let the proof of coverage close on its own (4 s window + grace, simulated).
    wait_for_verdicts(&oracle, 1).await;
    let pool = oracle.store.db().pool();
    let count: i64 = sqlx::query("SELECT COUNT(*) AS n FROM beacon_reports")
        .fetch_one(pool)
        .await
        .expect("count")
        .get("n");
    assert_eq!(count, 1, "{db_name}: the beacon is stored once");
    let poc = sqlx::query("SELECT valid, reason, valid_witnesses, selected_witnesses, reward_units_e4, hex_scale_e4 FROM pocs")
        .fetch_one(pool)
        .await
        .expect("poc");
    assert_eq!(
        poc.get::<i64, _>("valid"),
        1,
        "{db_name}: reason {:?}",
        poc.get::<Option<String>, _>("reason")
    );
    assert_eq!(poc.get::<i64, _>("valid_witnesses"), 1);
    assert_eq!(poc.get::<i64, _>("selected_witnesses"), 1);
    assert_eq!(
        poc.get::<i64, _>("reward_units_e4"),
        2500,
        "one witness: 0.25 beacon units"
    );
    assert_eq!(
        poc.get::<i64, _>("hex_scale_e4"),
        2000,
        "nobody is active yet: default scale"
    );
    let rows = sqlx::query("SELECT witness_key, valid, reason, measured, threshold, selected FROM witness_verdicts ORDER BY valid DESC")
        .fetch_all(pool)
        .await
        .expect("witness verdicts");
    assert_eq!(rows.len(), 2);
    assert_eq!(
        rows[0].get::<Vec<u8>, _>("witness_key"),
        far.key.public().to_vec()
    );
    assert_eq!(
        (
            rows[0].get::<i64, _>("valid"),
            rows[0].get::<i64, _>("selected")
        ),
        (1, 1)
    );
    assert_eq!(
        rows[1].get::<Vec<u8>, _>("witness_key"),
        near.key.public().to_vec()
    );
    assert_eq!(
        rows[1].get::<Option<String>, _>("reason").as_deref(),
        Some("below_min_distance")
    );
    assert!(rows[1].get::<Option<f64>, _>("measured").expect("measured") < 8.0);
    assert_eq!(rows[1].get::<Option<f64>, _>("threshold"), Some(8.0));
    let _ = PublicKey::from_slice(&rows[0].get::<Vec<u8>, _>("witness_key")).expect("key");

    // `oracle explain` tells each hotspot what happened and why.
    let near_explained = oracle::explain::explain(
        &oracle.store,
        near.key.public(),
        None,
        &VerifierParams::default(),
    )
    .await
    .expect("explain");
    assert_eq!(near_explained.witnesses.len(), 1);
    let line = &near_explained.witnesses[0];
    assert_eq!(
        (line.valid, line.reason.as_deref(), line.side.as_deref()),
        (false, Some("below_min_distance"), Some("witness"))
    );
    assert_eq!(line.threshold, Some(8.0));
    assert_eq!(
        line.beaconer.as_deref(),
        Some(beaconer.key.public().to_string().as_str())
    );
    let text = oracle::explain::render(&near_explained);
    assert!(
        text.contains("invalid: below_min_distance") && text.contains("vs threshold 8"),
        "{text}"
    );
    let beaconer_explained = oracle::explain::explain(
        &oracle.store,
        beaconer.key.public(),
        Some(0),
        &VerifierParams::default(),
    )
    .await
    .expect("explain");
    assert!(beaconer_explained.beacons.is_empty(), "epoch 0 has nothing");
    let epoch = beaconer_explained.epoch;
    let all = oracle::explain::explain(
        &oracle.store,
        beaconer.key.public(),
        None,
        &VerifierParams::default(),
    )
    .await
    .expect("explain");
    assert_eq!(all.beacons.len(), 1);
    assert!(all.beacons[0].valid && all.beacons[0].selected_witnesses == 1 && epoch == Some(0));
    let json = serde_json::to_value(&all).expect("json");
    assert_eq!(json["beacons"][0]["valid_witnesses"], 1);
    oracle.shutdown().await;
}

/// Settings for tests of ingest and storage: a single beacon must be able to verify validly,
/// so HIP 106 reciprocity and witness-graph trust (which need a history; see
/// `tests/verifier_rules.rs` and `tests/trust.rs`) are off.
fn ingest_settings(dir: &std::path::Path, database_url: String) -> Settings {
    let mut settings = Settings {
        data_dir: dir.to_path_buf(),
        database_url,
        listen: "127.0.0.1:0".parse().expect("addr"),
        ..Settings::default()
    };
    settings.verifier.checks.reciprocity = false;
    settings.verifier.checks.graph_trust = false;
    settings
}

fn make_beacon(hotspot: &Hotspot, entropy: &Entropy, now_ms: u64) -> BeaconReport {
    let local = [1, 2, 3, 4];
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
    report.sign_with(&hotspot.key);
    report
}

fn make_witness(
    hotspot: &Hotspot,
    beacon: &BeaconReport,
    signal_ddbm: i32,
    now_ms: u64,
) -> WitnessReport {
    let _ = hotspot.location;
    let mut report = WitnessReport {
        data: beacon.data.clone(),
        timestamp_ms: now_ms,
        signal_ddbm,
        snr_ddb: 50,
        frequency_hz: beacon.frequency_hz,
        datarate: beacon.datarate,
        ..Default::default()
    };
    report.sign_with(&hotspot.key);
    report
}

async fn wait_for_verdicts(oracle: &Oracle, pocs: u64) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while oracle.verifier_stats().pocs < pocs {
        assert!(
            tokio::time::Instant::now() < deadline,
            "verifier did not close the proof of coverage in time"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn end_to_end_on_sqlite() {
    let db = db::test_support::sqlite().await.expect("sqlite");
    run_scenario(db.url.clone(), db.name).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn end_to_end_on_postgres() {
    let _ = tracing_subscriber::fmt().with_test_writer().try_init();
    let db = db::test_support::postgres().await.expect("postgres");
    run_scenario(db.url.clone(), db.name).await;
}

/// What a batch's answer says of each report: `Ok((duplicate, received_ms))` or the rejection.
fn results(response: &Response) -> Vec<Result<(bool, u64), RejectReason>> {
    let Some(response::Msg::Results(results)) = &response.msg else {
        panic!("expected results, got {response:?}");
    };
    results
        .results
        .iter()
        .map(|r| match &r.result {
            Some(report_result::Result::Ack(a)) => Ok((a.duplicate, a.received_ms)),
            Some(report_result::Result::Rejection(r)) => {
                Err(RejectReason::try_from(r.reason).unwrap_or_default())
            }
            None => panic!("empty result"),
        })
        .collect()
}

fn batch(reports: Vec<report::Report>) -> request::Msg {
    request::Msg::Reports(ReportBatch {
        reports: reports
            .into_iter()
            .map(|r| Report { report: Some(r) })
            .collect(),
    })
}

async fn count(oracle: &Oracle, table: &str) -> i64 {
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT COUNT(*) AS n FROM {table}"
    )))
    .fetch_one(oracle.store.db().pool())
    .await
    .expect("count")
    .get("n")
}

/// An oracle on `database_url` with two onboarded hotspots, a connection, and a beacon of the
/// first signed over the oracle's entropy.
struct TwoHotspots {
    oracle: Oracle,
    conn: quinn::Connection,
    clock: SharedClock,
    witness: Hotspot,
    beacon: BeaconReport,
    _dir: tempfile::TempDir,
}

async fn two_hotspots(database_url: String) -> TwoHotspots {
    let dir = tempfile::tempdir().expect("tempdir");
    let settings = ingest_settings(dir.path(), database_url);
    let clock: SharedClock = Arc::new(ScaledClock::new(1_763_800_000_000_000_000, 20.0));
    let oracle = Oracle::start(&settings, Keypair::from_seed([1; 32]), Arc::clone(&clock))
        .await
        .expect("oracle starts");
    let conn = connect(&oracle).await;
    let now = clock.now_ms();
    let beaconer = onboard(&conn, 20, 37.7749, -122.4194, now).await;
    let witness = onboard(&conn, 21, 37.7929, -122.4194, now).await;
    let Some(response::Msg::Entropy(entropy)) =
        send(&conn, request::Msg::Entropy(EntropyRequest {}))
            .await
            .msg
    else {
        panic!("no entropy");
    };
    let beacon = make_beacon(&beaconer, &entropy, clock.now_ms());
    TwoHotspots {
        oracle,
        conn,
        clock,
        witness,
        beacon,
        _dir: dir,
    }
}

/// Batches: each report answered on its own, exactly as alone (acks, an in-batch and a later
/// duplicate with the first receive time, each kind of rejection at its place), whole-request
/// refusals beyond the bounds, and only acknowledged reports stored.
async fn batch_scenario(database_url: String) {
    use report::Report::{Beacon, Witness};
    let TwoHotspots {
        oracle,
        conn,
        clock,
        witness,
        beacon,
        _dir,
    } = two_hotspots(database_url).await;
    let heard = make_witness(&witness, &beacon, -1000, clock.now_ms());
    let mut forged = heard.clone();
    forged.snr_ddb += 1;
    let mut stranger = heard.clone();
    stranger.sign_with(&Keypair::from_seed([99; 32]));
    let mut short = heard.clone();
    short.data.truncate(50);
    short.sign_with(&witness.key);
    let mut reports = vec![
        Beacon(beacon.clone()),
        Witness(heard.clone()),
        Witness(forged),
        Witness(stranger),
        Witness(short),
        Beacon(beacon.clone()),
    ];
    let mut request = batch(reports.clone());
    if let request::Msg::Reports(b) = &mut request {
        b.reports.push(Report { report: None });
    }
    let answers = results(&send(&conn, request).await);
    let received = answers[0].expect("beacon acked").1;
    assert_eq!(
        answers,
        vec![
            Ok((false, received)),
            Ok((false, received)),
            Err(RejectReason::BadSignature),
            Err(RejectReason::UnknownHotspot),
            Err(RejectReason::InvalidField),
            Ok((true, received)),
            Err(RejectReason::Malformed),
        ]
    );
    // Resent later (alone and in a batch): duplicates with the first receive time.
    assert_eq!(
        ack(&send(&conn, request::Msg::Witness(heard.clone())).await),
        (true, received)
    );
    reports.truncate(2);
    assert_eq!(
        results(&send(&conn, batch(reports)).await),
        vec![Ok((true, received)), Ok((true, received))]
    );

    // Many good reports with one bad signature among them: exactly that one is refused.
    let mut many: Vec<report::Report> = (0..200)
        .map(|i| Witness(make_witness(&witness, &beacon, -1100 - i, clock.now_ms())))
        .collect();
    if let Witness(w) = &mut many[137] {
        w.signal_ddbm += 1;
    }
    let answers = results(&send(&conn, batch(many.clone())).await);
    for (i, answer) in answers.iter().enumerate() {
        if i == 137 {
            assert_eq!(*answer, Err(RejectReason::BadSignature));
        } else {
            assert!(matches!(answer, Ok((false, _))), "{i}: {answer:?}");
        }
    }
    assert_eq!(answers.len(), 200);

    // Bounds: refused whole.
    let over: Vec<report::Report> = (0..=schemas::MAX_REPORTS_PER_REQUEST)
        .map(|_| Witness(heard.clone()))
        .collect();
    assert_eq!(
        rejection(&send(&conn, batch(over)).await),
        Some(RejectReason::TooLarge)
    );
    assert_eq!(
        rejection(&send(&conn, batch(Vec::new())).await),
        Some(RejectReason::InvalidField)
    );
    let oversized: Vec<report::Report> = (0..250)
        .map(|_| {
            let mut w = heard.clone();
            w.data = vec![0; 1024];
            Witness(w)
        })
        .collect();
    let oversized = Request {
        msg: Some(batch(oversized)),
    }
    .encode_to_vec();
    assert_eq!(
        rejection(&send_raw(&conn, &oversized).await),
        Some(RejectReason::TooLarge)
    );
    assert_eq!(count(&oracle, "beacon_reports").await, 1);
    assert_eq!(count(&oracle, "witness_reports").await, 1 + 199);
    oracle.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batches_on_sqlite() {
    let db = db::test_support::sqlite().await.expect("sqlite");
    batch_scenario(db.url.clone()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batches_on_postgres() {
    let db = db::test_support::postgres().await.expect("postgres");
    batch_scenario(db.url.clone()).await;
}

/// Agents on many connections send overlapping batches at once, so one group commit holds the
/// same report several times and later ones hold it again: each report is stored once and
/// acknowledged as new exactly once, and every other answer for it is a duplicate with that
/// first receive time.
async fn overlapping_batches_scenario(database_url: String) {
    use report::Report::Witness;
    let TwoHotspots {
        oracle,
        clock,
        witness,
        beacon,
        _dir,
        ..
    } = two_hotspots(database_url).await;
    let signed = |k: i32| make_witness(&witness, &beacon, -1000 - k, clock.now_ms());
    const SHARED: usize = 20;
    const OWN: usize = 5;
    const AGENTS: usize = 12;
    const REQUESTS: usize = 4;
    let shared: Vec<WitnessReport> = (0..SHARED as i32).map(signed).collect();
    let mut requests = Vec::new();
    for agent in 0..AGENTS {
        let conn = connect(&oracle).await;
        for r in 0..REQUESTS {
            let first = (SHARED + (agent * REQUESTS + r) * OWN) as i32;
            let mut reports: Vec<report::Report> = (first..first + OWN as i32)
                .map(|k| Witness(signed(k)))
                .collect();
            reports.extend(shared.iter().cloned().map(Witness));
            requests.push((conn.clone(), reports));
        }
    }
    let answers = futures::future::join_all(
        requests
            .into_iter()
            .map(|(conn, reports)| async move { results(&send(&conn, batch(reports)).await) }),
    )
    .await;
    for (i, answer) in answers.iter().enumerate() {
        assert_eq!(answer.len(), OWN + SHARED, "request {i}");
        for own in &answer[..OWN] {
            assert!(matches!(own, Ok((false, _))), "request {i}: {own:?}");
        }
    }
    for j in 0..SHARED {
        let all: Vec<(bool, u64)> = answers
            .iter()
            .map(|a| a[OWN + j].expect("shared report acknowledged"))
            .collect();
        let new: Vec<u64> = all.iter().filter(|(d, _)| !d).map(|(_, t)| *t).collect();
        assert_eq!(new.len(), 1, "shared report {j} new exactly once: {all:?}");
        assert!(
            all.iter().all(|(_, t)| *t == new[0]),
            "shared report {j}: every answer has the first receive time: {all:?}"
        );
    }
    let requests = (AGENTS * REQUESTS) as i64;
    assert_eq!(
        count(&oracle, "witness_reports").await,
        SHARED as i64 + requests * OWN as i64
    );
    oracle.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn overlapping_batches_on_sqlite() {
    let db = db::test_support::sqlite().await.expect("sqlite");
    overlapping_batches_scenario(db.url.clone()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn overlapping_batches_on_postgres() {
    let db = db::test_support::postgres().await.expect("postgres");
    overlapping_batches_scenario(db.url.clone()).await;
}

/// Reports acknowledged just before the oracle stops are verified after it restarts on the same
/// database: nothing already accepted is lost.
async fn restart_scenario(database_url: String) {
    let dir = tempfile::tempdir().expect("tempdir");
    let settings = ingest_settings(dir.path(), database_url);
    let clock: SharedClock = Arc::new(ScaledClock::new(1_763_800_000_000_000_000, 20.0));
    let key = Keypair::from_seed([1; 32]);
    let oracle = Oracle::start(&settings, key.clone(), Arc::clone(&clock))
        .await
        .expect("start");
    let conn = connect(&oracle).await;
    let now = clock.now_ms();
    let beaconer = onboard(&conn, 20, 37.7749, -122.4194, now).await;
    let witness = onboard(&conn, 21, 37.7929, -122.4194, now).await;
    let entropy = match send(&conn, request::Msg::Entropy(EntropyRequest {}))
        .await
        .msg
    {
        Some(response::Msg::Entropy(e)) => e,
        other => panic!("expected entropy, got {other:?}"),
    };
    let beacon = make_beacon(&beaconer, &entropy, clock.now_ms());
    ack(&send(&conn, request::Msg::Beacon(beacon.clone())).await);
    ack(&send(
        &conn,
        request::Msg::Witness(make_witness(&witness, &beacon, -1000, clock.now_ms())),
    )
    .await);
    // Stop before the proof of coverage closes: nothing is verified yet.
    assert_eq!(oracle.verifier_stats().pocs, 0);
    oracle.shutdown().await;

    let restarted = Oracle::start(&settings, key, Arc::clone(&clock))
        .await
        .expect("restart");
    wait_for_verdicts(&restarted, 1).await;
    let pool = restarted.store.db().pool();
    let row = sqlx::query("SELECT valid, valid_witnesses FROM pocs")
        .fetch_one(pool)
        .await
        .expect("poc");
    assert_eq!(
        (
            row.get::<i64, _>("valid"),
            row.get::<i64, _>("valid_witnesses")
        ),
        (1, 1)
    );
    restarted.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restart_resumes_verification_on_sqlite() {
    let db = db::test_support::sqlite().await.expect("sqlite");
    restart_scenario(db.url.clone()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restart_resumes_verification_on_postgres() {
    let db = db::test_support::postgres().await.expect("postgres");
    restart_scenario(db.url.clone()).await;
}
