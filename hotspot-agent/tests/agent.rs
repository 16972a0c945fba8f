//! End to end on loopback QUIC: an agent against a fake oracle and a fake radio medium, on a
//! clock running 3600 times faster than real time (a 1 h beacon segment lasts 1 s); the same
//! agent behind a GWMP packet-forwarder double over UDP (`semtech`); fuzzed datagrams.

mod assert_command;
mod fakes;
mod gwmp_fuzz;
mod semtech;

use fakes::{
    FakeMedium, FakeOracle, MediumLink, ack, ack_all, next_witness, reception, reject, tx_done,
    within,
};
use hotspot_agent::lora::proprietary_frame;
use hotspot_agent::outbox::{Outbox, deliver};
use hotspot_agent::radio::sim::{SimRadio, SimRadioConfig};
use hotspot_agent::{Agent, AgentConfig, AgentStats, OracleClient, OracleError};
use schemas::beacon::{RemoteEntropy, derive};
use schemas::clock::{ScaledClock, SharedClock};
use schemas::proto::{BeaconReport, DataRate, RejectReason, Request, WitnessReport, request};
use schemas::region::{Region, channel_plan};
use schemas::sign::SingleSigned;
use schemas::{Keypair, PublicKey};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

const GAIN_DDBI: i32 = 30;

fn clock() -> SharedClock {
    Arc::new(ScaledClock::new(1_750_000_000_000_000_000, 3600.0))
}

fn config(oracle: &FakeOracle, oracle_key: PublicKey, beacon_enabled: bool) -> AgentConfig {
    AgentConfig {
        region: Region::Us915,
        antenna_gain_ddbi: GAIN_DDBI,
        oracle_addr: oracle.addr,
        oracle_key,
        beacon_interval: Duration::from_secs(3600),
        beacon_enabled,
        request_timeout: Duration::from_secs(5),
        rng_seed: None,
    }
}

struct Running {
    stats: Arc<AgentStats>,
    stop: oneshot::Sender<()>,
    task: JoinHandle<Result<(), hotspot_agent::AgentError>>,
}

impl Running {
    async fn stop(self) {
        let _ = self.stop.send(());
        let result = tokio::time::timeout(fakes::PATIENCE, self.task)
            .await
            .expect("agent stops")
            .expect("join");
        result.expect("agent ran without error");
    }
}

fn start_agent(
    config: AgentConfig,
    hotspot: &Keypair,
    medium: &FakeMedium,
    medium_key: PublicKey,
    clock: SharedClock,
) -> Running {
    let radio_config = SimRadioConfig {
        address: medium.addr,
        medium_key,
    };
    let radio = SimRadio::connect(radio_config, hotspot.clone(), clock.clone()).expect("radio");
    let agent = Agent::new(config, hotspot.clone(), clock);
    let stats = agent.stats();
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(agent.run(radio, async move {
        let _ = stopped.await;
    }));
    Running { stats, stop, task }
}

/// A witnessing agent (beaconing off) against a fake oracle that answers by `policy` and a fake
/// medium, once the agent's radio link is up. Keys from seeds `seed`, `seed + 1`, `seed + 2`.
struct Witnessing {
    oracle: FakeOracle,
    _medium: FakeMedium,
    link: MediumLink,
    agent: Running,
}

async fn start_witnessing(seed: u8, policy: fakes::Policy) -> Witnessing {
    let (oracle_key, medium_key, hotspot) = (
        Keypair::from_seed([seed; 32]),
        Keypair::from_seed([seed + 1; 32]),
        Keypair::from_seed([seed + 2; 32]),
    );
    let clock = clock();
    let oracle = FakeOracle::start(oracle_key.clone(), clock.clone(), policy);
    let mut medium = FakeMedium::start(&medium_key);
    let agent = start_agent(
        config(&oracle, oracle_key.public(), false),
        &hotspot,
        &medium,
        medium_key.public(),
        clock,
    );
    let link = within("medium hello", medium.links.recv()).await;
    Witnessing {
        oracle,
        _medium: medium,
        link,
        agent,
    }
}

fn check_beacon(report: &BeaconReport, oracle: &FakeOracle, hotspot: &Keypair) {
    assert_eq!(
        report.verify(),
        Ok(hotspot.public()),
        "beacon report signed by the hotspot"
    );
    let entropy = oracle.entropy_with(&report.remote_entropy);
    let remote = RemoteEntropy {
        data: &entropy.data,
        timestamp_ms: entropy.timestamp_ms,
        version: entropy.version,
    };
    let plan = channel_plan(Region::Us915).expect("plan");
    let beacon = derive(remote, &report.local_entropy, plan, GAIN_DDBI).expect("derive");
    assert_eq!(report.data, beacon.data);
    assert_eq!(report.frequency_hz, beacon.frequency_hz);
    assert_eq!(report.datarate(), beacon.datarate);
    assert!(report.timestamp_ms >= entropy.timestamp_ms);
}

#[tokio::test]
async fn beacons_witnesses_and_never_witnesses_itself() {
    let (oracle_key, medium_key, hotspot) = (
        Keypair::from_seed([1; 32]),
        Keypair::from_seed([2; 32]),
        Keypair::from_seed([3; 32]),
    );
    let clock = clock();
    let mut oracle = FakeOracle::start(oracle_key.clone(), clock.clone(), ack_all());
    let mut medium = FakeMedium::start(&medium_key);
    let agent = start_agent(
        config(&oracle, oracle_key.public(), true),
        &hotspot,
        &medium,
        medium_key.public(),
        clock,
    );

    let link: MediumLink = within("medium hello", medium.links.recv()).await;
    assert_eq!(
        link.hello.verify(),
        Ok(hotspot.public()),
        "hello signed by the hotspot"
    );
    let transmit = within("beacon transmission", medium.transmits.recv()).await;
    // US915 max EIRP 36 dBm - 3 dBi gain = 33 dBm conducted.
    assert_eq!(transmit.tx_power_ddbm, 330);
    assert_eq!(transmit.payload[0], 0xE0, "a LoRaWAN proprietary frame");
    link.send(tx_done(270)); // the radio lowered the power
    link.send(reception(transmit.payload.clone(), -500, 100)); // our own beacon, echoed
    link.send(reception(proprietary_frame(&[7; 51]), -1105, -75));
    link.send(reception([vec![0x40], vec![7; 51]].concat(), -800, 20)); // a data uplink
    link.send(reception(proprietary_frame(&[7; 51]), -1000, 10)); // the same beacon again
    link.send(reception(proprietary_frame(&[8; 51]), -900, 30));

    let mut beacon = None;
    let mut witnesses = Vec::new();
    while beacon.is_none() || witnesses.len() < 2 {
        match within("reports", oracle.reports.recv()).await.msg {
            Some(request::Msg::Beacon(b)) => beacon = Some(b),
            Some(request::Msg::Witness(w)) => witnesses.push(w),
            other => panic!("unexpected report {other:?}"),
        }
    }
    let beacon = beacon.expect("beacon report");
    check_beacon(&beacon, &oracle, &hotspot);
    assert_eq!(
        transmit.payload,
        proprietary_frame(&beacon.data),
        "the transmitted frame is the reported beacon"
    );
    assert_eq!(
        (transmit.frequency_hz, transmit.datarate()),
        (beacon.frequency_hz, beacon.datarate())
    );
    assert_eq!(
        (beacon.tx_power_ddbm, beacon.tmst, beacon.radio_timestamp_ns),
        (270, 4242, 1_750_000_000_123_456_789)
    );

    // Receptions are reported in order, so an echo of our own beacon would have come first.
    let data: Vec<_> = witnesses.iter().map(|w| w.data.clone()).collect();
    assert_eq!(
        data,
        vec![vec![7; 51], vec![8; 51]],
        "own beacon, data uplink and duplicate not witnessed"
    );
    let first = &witnesses[0];
    assert_eq!(first.verify(), Ok(hotspot.public()));
    assert_eq!((first.signal_ddbm, first.snr_ddb), (-1105, -75));
    assert_eq!(
        (
            first.frequency_hz,
            first.datarate(),
            first.tmst,
            first.radio_timestamp_ns
        ),
        (904_300_000, DataRate::Sf9bw125, 22, 11)
    );
    assert_eq!((witnesses[1].signal_ddbm, witnesses[1].snr_ddb), (-900, 30));

    let stats = agent.stats.snapshot();
    assert_eq!(stats.beacons_sent, 1);
    assert_eq!(stats.witnesses_sent, 2);
    assert_eq!(stats.frames_ignored, 3);
    agent.stop().await;
}

#[tokio::test]
async fn rejected_reports_are_dropped_and_unavailable_ones_retried() {
    // By content, so the outcome does not depend on how the three reports were batched:
    // fill 1 is UNAVAILABLE the first time, fill 2 is refused for good, the rest acknowledged.
    let refused_once = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let policy: fakes::Policy = Arc::new(move |request: &Request, _| {
        let fill = match &request.msg {
            Some(request::Msg::Witness(w)) => w.data[0],
            _ => 0,
        };
        match fill {
            1 if !refused_once.swap(true, std::sync::atomic::Ordering::SeqCst) => {
                reject(RejectReason::Unavailable)
            }
            2 => reject(RejectReason::BadSignature),
            _ => ack(request),
        }
    });
    let Witnessing {
        mut oracle,
        _medium,
        link,
        agent,
    } = start_witnessing(4, policy).await;
    for fill in [1u8, 2, 3] {
        link.send(reception(proprietary_frame(&[fill; 51]), -1000, 0));
    }
    let fills: Vec<u8> = [
        next_witness(&mut oracle).await,
        next_witness(&mut oracle).await,
        next_witness(&mut oracle).await,
        next_witness(&mut oracle).await,
    ]
    .iter()
    .map(|w| w.data[0])
    .collect();
    // 1: UNAVAILABLE then acked on retry; 2: BAD_SIGNATURE, never retried; 3: acked. Whether
    // 2 and 3 rode in a batch with 1's first or second attempt, each is sent once, in order.
    let count = |f: u8| fills.iter().filter(|&&x| x == f).count();
    assert_eq!((count(1), count(2), count(3)), (2, 1, 1), "{fills:?}");
    assert_eq!(fills[0], 1);
    assert!(
        fills.iter().position(|&f| f == 2) < fills.iter().position(|&f| f == 3),
        "{fills:?}"
    );
    let stats = agent.stats.snapshot();
    assert_eq!(stats.rejections, 1);
    assert!(stats.witnesses_acked >= 1);
    assert_eq!(stats.beacons_sent, 0, "beaconing disabled");
    agent.stop().await;
}

#[tokio::test]
async fn a_report_queued_at_shutdown_is_delivered_before_the_agent_stops() {
    // The first attempt is UNAVAILABLE, so the report waits out a backoff (at least 1 s)
    // in the outbox; the agent is told to stop during that wait.
    let policy: fakes::Policy = Arc::new(move |request: &Request, n| {
        if n == 0 {
            reject(RejectReason::Unavailable)
        } else {
            ack(request)
        }
    });
    let Witnessing {
        mut oracle,
        _medium,
        link,
        agent,
    } = start_witnessing(40, policy).await;
    link.send(reception(proprietary_frame(&[7; 51]), -1000, 0));
    let first = next_witness(&mut oracle).await;
    let stats = agent.stats.clone();
    assert_eq!(stats.snapshot().witnesses_acked, 0);
    agent.stop().await;
    let second = within("the retry during shutdown", oracle.reports.recv()).await;
    assert_eq!(second.msg, Some(request::Msg::Witness(first)));
    assert_eq!(
        stats.snapshot().witnesses_acked,
        1,
        "acknowledged before the agent stopped"
    );
}

#[tokio::test]
async fn an_oracle_with_another_key_is_refused() {
    let (oracle_key, impostor) = (Keypair::from_seed([7; 32]), Keypair::from_seed([8; 32]));
    let mut oracle = FakeOracle::start(impostor, clock(), ack_all());
    let endpoint = transport::client_endpoint().expect("endpoint");
    let client = OracleClient::new(
        endpoint,
        oracle.addr,
        oracle_key.public(),
        Duration::from_secs(5),
    )
    .expect("client");
    let error = client
        .entropy()
        .await
        .expect_err("must refuse the impostor");
    assert!(
        matches!(error, OracleError::PinnedKeyMismatch { .. }),
        "{error:?}"
    );
    assert!(
        error.to_string().contains("does not match the pinned key"),
        "{error}"
    );
    assert!(oracle.reports.try_recv().is_err());
    assert!(
        oracle.entropies.lock().expect("lock").is_empty(),
        "nothing was served to us"
    );
}

#[tokio::test]
async fn a_malformed_medium_message_makes_the_radio_reconnect() {
    let (oracle_key, medium_key, hotspot) = (
        Keypair::from_seed([9; 32]),
        Keypair::from_seed([10; 32]),
        Keypair::from_seed([11; 32]),
    );
    let clock = clock();
    let mut oracle = FakeOracle::start(oracle_key.clone(), clock.clone(), ack_all());
    let mut medium = FakeMedium::start(&medium_key);
    let agent = start_agent(
        config(&oracle, oracle_key.public(), false),
        &hotspot,
        &medium,
        medium_key.public(),
        clock,
    );
    let first = within("first hello", medium.links.recv()).await;
    first.down.send(vec![0xff; 12]).expect("send garbage"); // an impossible length prefix
    let second = within("hello after reconnecting", medium.links.recv()).await;
    assert_eq!(second.hello.verify(), Ok(hotspot.public()));
    second.send(reception(proprietary_frame(&[5; 51]), -1000, 0));
    assert_eq!(
        next_witness(&mut oracle).await.data,
        vec![5; 51],
        "the new link works"
    );
    agent.stop().await;
}

#[tokio::test]
async fn an_agent_pinned_to_another_key_never_reports() {
    let (oracle_key, medium_key, hotspot) = (
        Keypair::from_seed([12; 32]),
        Keypair::from_seed([13; 32]),
        Keypair::from_seed([14; 32]),
    );
    let clock = clock();
    let mut oracle = FakeOracle::start(Keypair::from_seed([15; 32]), clock.clone(), ack_all());
    let mut medium = FakeMedium::start(&medium_key);
    let agent = start_agent(
        config(&oracle, oracle_key.public(), true),
        &hotspot,
        &medium,
        medium_key.public(),
        clock,
    );
    let link = within("medium hello", medium.links.recv()).await;
    link.send(reception(proprietary_frame(&[6; 51]), -1000, 0));
    // The witness is queued but cannot be delivered; the first beacon fails for lack of entropy.
    let deadline = tokio::time::Instant::now() + fakes::PATIENCE;
    while agent.stats.snapshot().beacon_failures == 0 {
        assert!(tokio::time::Instant::now() < deadline, "no beacon attempt");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let stats = agent.stats.snapshot();
    assert!(stats.oracle_connect_failures >= 1);
    assert_eq!(
        (
            stats.witnesses_sent,
            stats.witnesses_acked,
            stats.beacons_sent
        ),
        (1, 0, 0)
    );
    assert!(
        oracle.reports.try_recv().is_err(),
        "the impostor got nothing"
    );
    assert!(
        medium.transmits.try_recv().is_err(),
        "no beacon without verified entropy"
    );
    agent.stop().await;
}

fn witness_request(tmst: u32) -> Request {
    Request {
        msg: Some(request::Msg::Witness(WitnessReport {
            tmst,
            data: vec![9; 51],
            ..Default::default()
        })),
    }
}

/// Runs the delivery task until the outbox is empty.
async fn deliver_all(oracle: &FakeOracle, oracle_key: PublicKey, outbox: &Outbox) -> AgentStats {
    let endpoint = transport::client_endpoint().expect("endpoint");
    let client = OracleClient::new(endpoint, oracle.addr, oracle_key, Duration::from_secs(5))
        .expect("client");
    let stats = AgentStats::default();
    let emptied = async {
        while !outbox.is_empty() {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        Some(())
    };
    tokio::select! {
        () = deliver(outbox, &client, &stats, || 1_000) => unreachable!("deliver runs forever"),
        () = within("outbox emptied", emptied) => {}
    }
    stats
}

fn tmsts(oracle: &mut FakeOracle) -> Vec<u32> {
    let mut out = Vec::new();
    while let Ok(request) = oracle.reports.try_recv() {
        if let Some(request::Msg::Witness(w)) = request.msg {
            out.push(w.tmst);
        }
    }
    out
}

#[tokio::test]
async fn a_backlog_goes_out_in_batches_each_report_settled_by_its_own_result() {
    let oracle_key = Keypair::from_seed([40; 32]);
    // Report 3 is refused for good (dropped); report 10 is UNAVAILABLE (kept and sent again
    // first); the rest are acknowledged and retired whatever came before them.
    let policy: fakes::Policy = Arc::new(|request: &Request, n| match n {
        3 => reject(RejectReason::BadSignature),
        10 => reject(RejectReason::Unavailable),
        _ => ack(request),
    });
    let mut oracle = FakeOracle::start(oracle_key.clone(), clock(), policy);
    let outbox = Outbox::new(1_000);
    for tmst in 0..300 {
        outbox.push(&witness_request(tmst), 0);
    }
    let stats = deliver_all(&oracle, oracle_key.public(), &outbox)
        .await
        .snapshot();
    let max = schemas::MAX_REPORTS_PER_REQUEST;
    // The first batch settles all but report 10; the second carries it first, then the rest.
    assert_eq!(
        *oracle.requests.lock().expect("lock"),
        vec![Some(max), Some(1 + 300 - max)]
    );
    let max = max as u32;
    let expected: Vec<u32> = (0..max).chain([10]).chain(max..300).collect();
    assert_eq!(tmsts(&mut oracle), expected);
    assert_eq!(stats.rejections, 1);
    assert_eq!(stats.witnesses_acked, 299);
}

#[tokio::test]
async fn one_waiting_report_goes_alone_and_a_refused_batch_goes_one_by_one() {
    let oracle_key = Keypair::from_seed([41; 32]);
    let mut oracle = FakeOracle::start(oracle_key.clone(), clock(), ack_all());
    let outbox = Outbox::new(10);
    outbox.push(&witness_request(1), 0);
    deliver_all(&oracle, oracle_key.public(), &outbox).await;
    assert_eq!(*oracle.requests.lock().expect("lock"), vec![None]);
    assert_eq!(tmsts(&mut oracle), vec![1]);

    // An oracle that refuses batches whole (as one that predates them answers MALFORMED).
    let old: fakes::Policy = Arc::new(|request: &Request, _| ack(request));
    let old_oracle = FakeOracle::start_without_batches(oracle_key.clone(), clock(), old);
    let outbox = Outbox::new(10);
    for tmst in 0..3 {
        outbox.push(&witness_request(tmst), 0);
    }
    let stats = deliver_all(&old_oracle, oracle_key.public(), &outbox)
        .await
        .snapshot();
    assert_eq!(
        *old_oracle.requests.lock().expect("lock"),
        vec![Some(3), None, None, None]
    );
    assert_eq!(stats.witnesses_acked, 3);
}
