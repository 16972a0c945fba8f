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
use hotspot_agent::radio::sim::{SimRadio, SimRadioConfig};
use hotspot_agent::{Agent, AgentConfig, AgentStats, OracleClient, OracleError};
use schemas::beacon::{RemoteEntropy, derive};
use schemas::clock::{ScaledClock, SharedClock};
use schemas::proto::{BeaconReport, DataRate, RejectReason, Request, request};
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
    let (oracle_key, medium_key, hotspot) = (
        Keypair::from_seed([4; 32]),
        Keypair::from_seed([5; 32]),
        Keypair::from_seed([6; 32]),
    );
    let clock = clock();
    let policy: fakes::Policy = Arc::new(|request: &Request, n| match n {
        0 => reject(RejectReason::Unavailable),
        2 => reject(RejectReason::BadSignature),
        _ => ack(request),
    });
    let mut oracle = FakeOracle::start(oracle_key.clone(), clock.clone(), policy);
    let mut medium = FakeMedium::start(&medium_key);
    let agent = start_agent(
        config(&oracle, oracle_key.public(), false),
        &hotspot,
        &medium,
        medium_key.public(),
        clock,
    );
    let link = within("medium hello", medium.links.recv()).await;
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
    // 1: UNAVAILABLE then acked on retry; 2: BAD_SIGNATURE, never retried; 3: acked.
    assert_eq!(fills, vec![1, 1, 2, 3]);
    let stats = agent.stats.snapshot();
    assert_eq!(stats.rejections, 1);
    assert!(stats.witnesses_acked >= 1);
    assert_eq!(stats.beacons_sent, 0, "beaconing disabled");
    agent.stop().await;
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
