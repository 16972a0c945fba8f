//! Store-and-forward across an oracle outage and an agent restart: a real oracle (QUIC, SQLite)
//! is stopped while an agent with a durable queue keeps producing reports, the agent is
//! restarted once in between, the oracle comes back on the same database and address, and every
//! report the agents produced is stored exactly once.
//!
//! The oracle runs on an (almost) frozen clock so that no proof-of-coverage window closes while
//! the test runs; the stored reports are counted in `beacon_reports` / `witness_reports`.

use hotspot_agent::lora::proprietary_frame;
use hotspot_agent::outbox::{Outbox, QueueLimits};
use hotspot_agent::{
    Agent, AgentConfig, AgentStats, OracleClient, Radio, RadioError, RxFrame, TxDone, TxFrame,
};
use oracle::node::Oracle;
use schemas::Keypair;
use schemas::clock::{Clock, ScaledClock, SharedClock, SystemClock};
use schemas::proto::{DataRate, LocationAssertion, Request, request, response};
use schemas::region::Region;
use std::collections::HashSet;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};

const PATIENCE: Duration = Duration::from_secs(60);

/// A radio whose receptions the test injects; every transmission succeeds.
struct TestRadio(mpsc::Receiver<RxFrame>);

impl Radio for TestRadio {
    async fn transmit(&mut self, frame: TxFrame) -> Result<TxDone, RadioError> {
        Ok(TxDone {
            tx_power_ddbm: frame.power_ddbm,
            tmst: 1,
            radio_timestamp_ns: 0,
        })
    }
    async fn recv(&mut self) -> Option<RxFrame> {
        self.0.recv().await
    }
}

fn beacon_heard(n: u16) -> RxFrame {
    let mut data = vec![0x5A; 51];
    data[..2].copy_from_slice(&n.to_le_bytes());
    RxFrame {
        payload: proprietary_frame(&data),
        frequency_hz: 904_300_000,
        datarate: DataRate::Sf9bw125,
        rssi_ddbm: -1000,
        snr_ddb: 50,
        tmst: u32::from(n),
        radio_timestamp_ns: 0,
    }
}

struct RunningAgent {
    stats: Arc<AgentStats>,
    outbox: Arc<Outbox>,
    frames: mpsc::Sender<RxFrame>,
    heard: u64,
    stop: oneshot::Sender<()>,
    task: tokio::task::JoinHandle<()>,
}

impl RunningAgent {
    fn start(config: &AgentConfig, key: &Keypair, dir: &Path) -> Self {
        let clock: SharedClock = Arc::new(ScaledClock::new(SystemClock.now_ns(), 60.0));
        let outbox = Arc::new(Outbox::open(dir, QueueLimits::default()).expect("queue"));
        let agent = Agent::new(config.clone(), key.clone(), clock).with_outbox(outbox.clone());
        let stats = agent.stats();
        let (frames, rx) = mpsc::channel(64);
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            let shutdown = async move {
                let _ = stopped.await;
            };
            agent
                .run(TestRadio(rx), shutdown)
                .await
                .expect("agent runs");
        });
        Self {
            stats,
            outbox,
            frames,
            heard: 0,
            stop,
            task,
        }
    }

    /// Injects receptions `from..to` and waits until each became a witness report.
    async fn hear(&mut self, from: u16, to: u16) {
        for n in from..to {
            self.frames.send(beacon_heard(n)).await.expect("radio open");
        }
        self.heard += u64::from(to - from);
        let heard = self.heard;
        wait_for("witnesses made", || {
            self.stats.snapshot().witnesses_sent == heard
        })
        .await;
    }

    /// Stops the agent; returns (beacon reports, witness reports) it produced.
    async fn stop(self) -> (u64, u64) {
        let _ = self.stop.send(());
        tokio::time::timeout(PATIENCE, self.task)
            .await
            .expect("agent stops")
            .expect("join");
        let stats = self.stats.snapshot();
        assert_eq!(
            (
                stats.rejections,
                stats.reports_dropped,
                stats.queue_write_errors
            ),
            (0, 0, 0)
        );
        (stats.beacons_sent, stats.witnesses_sent)
    }
}

async fn wait_for(what: &str, done: impl Fn() -> bool) {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while !done() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "{what}: not within {PATIENCE:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn start_oracle(settings: &oracle::settings::Settings, key: &Keypair) -> Oracle {
    // Frozen clock: no PoC window ever closes, so stored reports stay unverified.
    let clock: SharedClock = Arc::new(ScaledClock::new(SystemClock.now_ns(), 1e-6));
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        match Oracle::start(settings, key.clone(), clock.clone()).await {
            Ok(oracle) => return oracle,
            // The stopped oracle's QUIC socket lingers until its connections have timed out.
            Err(oracle::node::StartError::Bind { .. })
                if tokio::time::Instant::now() < deadline =>
            {
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            Err(error) => panic!("oracle starts: {error}"),
        }
    }
}

async fn onboard(oracle: &Oracle, hotspot: &Keypair) {
    let owner = Keypair::from_seed([9; 32]);
    let cell = h3o::LatLng::new(37.80, -122.27)
        .expect("position")
        .to_cell(h3o::Resolution::Twelve);
    let assertion = LocationAssertion::new_signed(
        hotspot,
        &owner,
        u64::from(cell),
        30,
        5,
        SystemClock.now_ms(),
    );
    let client = OracleClient::new(
        transport::client_endpoint().expect("endpoint"),
        oracle.addr,
        oracle.public_key,
        PATIENCE,
    )
    .expect("client");
    let request = Request {
        msg: Some(request::Msg::AssertLocation(assertion)),
    };
    let response = client.submit(&request).await.expect("submit");
    assert!(
        matches!(response.msg, Some(response::Msg::Ack(_))),
        "{response:?}"
    );
    client.close().await;
}

fn free_udp_port() -> SocketAddr {
    let socket = std::net::UdpSocket::bind("127.0.0.1:0").expect("bind");
    socket.local_addr().expect("addr")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_report_is_stored_exactly_once_across_an_outage_and_a_restart() {
    let db = db::test_support::sqlite().await.expect("sqlite");
    let data = tempfile::tempdir().expect("tempdir");
    let settings = oracle::settings::Settings {
        data_dir: data.path().join("oracle"),
        database_url: db.url.clone(),
        listen: free_udp_port(),
        ..Default::default()
    };
    let (oracle_key, hotspot) = (Keypair::from_seed([7; 32]), Keypair::from_seed([8; 32]));
    let queue_dir = data.path().join("agent");
    let oracle = start_oracle(&settings, &oracle_key).await;
    onboard(&oracle, &hotspot).await;
    let config = AgentConfig {
        region: Region::Us915,
        antenna_gain_ddbi: 30,
        oracle_addr: oracle.addr,
        oracle_key: oracle.public_key,
        beacon_interval: Duration::from_secs(60), // one segment per real second
        beacon_enabled: true,
        request_timeout: Duration::from_secs(5),
        rng_seed: None,
    };

    // 1. Oracle up: reports are delivered as they come.
    let mut agent = RunningAgent::start(&config, &hotspot, &queue_dir);
    agent.hear(0, 10).await;
    wait_for("delivered", || {
        agent.stats.snapshot().beacons_acked >= 1 && agent.stats.snapshot().witnesses_acked == 10
    })
    .await;
    // 2. Oracle down: the agent keeps witnessing; reports wait in the durable queue.
    oracle.shutdown().await;
    agent.hear(10, 20).await;
    wait_for("queued", || agent.outbox.len() >= 10).await;
    // 3. The agent restarts during the outage; its queue survives.
    let first = agent.stop().await;
    let mut agent = RunningAgent::start(&config, &hotspot, &queue_dir);
    assert!(
        agent.outbox.len() >= 10,
        "queue after restart: {}",
        agent.outbox.len()
    );
    agent.hear(20, 30).await; // new run, new reports
    // 4. The oracle comes back on the same database and address; the queue drains in order.
    let oracle = start_oracle(&settings, &oracle_key).await;
    wait_for("queue drained", || agent.outbox.is_empty()).await;
    let second = agent.stop().await;
    let (beacons, witnesses) = (first.0 + second.0, first.1 + second.1);
    assert_eq!(witnesses, 30);

    // Counted in the report tables themselves: a report can get its verdict at once (a beacon
    // whose hotspot has witnessed no one yet fails HIP 106 without waiting for witnesses).
    let rows = db::Db::connect(&db.url).await.expect("database");
    let ids = |sql: &'static str| sqlx::query_scalar::<_, Vec<u8>>(sql).fetch_all(rows.pool());
    let stored_witnesses = ids("SELECT id FROM witness_reports")
        .await
        .expect("witness ids");
    let stored_beacons = ids("SELECT id FROM beacon_reports")
        .await
        .expect("beacon ids");
    assert_eq!(
        stored_witnesses.len() as u64,
        witnesses,
        "one witness_reports row per witness made"
    );
    assert_eq!(
        stored_beacons.len() as u64,
        beacons,
        "one beacon_reports row per beacon sent"
    );
    let distinct: HashSet<&Vec<u8>> = stored_witnesses.iter().collect();
    assert_eq!(distinct.len(), stored_witnesses.len(), "no duplicates");
    assert!(beacons >= 1);
    oracle.shutdown().await;
}
