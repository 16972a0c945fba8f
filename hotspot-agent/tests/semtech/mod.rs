//! The agent behind a packet forwarder: a test double speaking GWMP over real UDP on loopback,
//! as `lora_pkt_fwd` does (separate upstream and downstream sockets, PULL_DATA keep-alive).

use crate::fakes::{FakeOracle, ack_all, next_witness, within};
use crate::{GAIN_DDBI, check_beacon, clock, config};
use base64::Engine as _;
use hotspot_agent::Agent;
use hotspot_agent::lora::proprietary_frame;
use hotspot_agent::radio::gwmp;
use hotspot_agent::radio::semtech::{GwmpCounters, SemtechRadio};
use hotspot_agent::stats::AgentStats;
use schemas::Keypair;
use schemas::clock::SharedClock;
use schemas::proto::{BeaconReport, DataRate, request};
use serde_json::{Value, json};
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::net::UdpSocket;
use tokio::sync::oneshot;

const GATEWAY_ID: [u8; 8] = [0xAA, 0x55, 0x5A, 0, 0, 0, 0, 7];
const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

/// A packet forwarder double.
struct Forwarder {
    up: UdpSocket,
    down: UdpSocket,
    agent: SocketAddr,
}

fn datagram(token: u16, identifier: u8, json: &[u8]) -> Vec<u8> {
    let mut d = vec![2, (token >> 8) as u8, token as u8, identifier];
    d.extend_from_slice(&GATEWAY_ID);
    d.extend_from_slice(json);
    d
}

impl Forwarder {
    async fn start(agent: SocketAddr) -> Self {
        let bind = || UdpSocket::bind("127.0.0.1:0");
        let forwarder = Self {
            up: bind().await.expect("bind up"),
            down: bind().await.expect("bind down"),
            agent,
        };
        forwarder
            .down
            .send_to(&datagram(0x0102, gwmp::PULL_DATA, b""), agent)
            .await
            .expect("pull data");
        let ack = recv(&forwarder.down).await;
        assert_eq!(ack, vec![2, 0x01, 0x02, gwmp::PULL_ACK], "PULL_ACK");
        forwarder
    }

    /// Sends a PUSH_DATA with `rxpk` and checks the PUSH_ACK.
    async fn push(&self, token: u16, rxpk: Value) {
        let json = json!({ "rxpk": rxpk }).to_string();
        let d = datagram(token, gwmp::PUSH_DATA, json.as_bytes());
        self.up.send_to(&d, self.agent).await.expect("push");
        let [hi, lo] = token.to_be_bytes();
        assert_eq!(recv(&self.up).await, vec![2, hi, lo, gwmp::PUSH_ACK]);
    }

    /// The next PULL_RESP: its token and `txpk`.
    async fn pull_resp(&self) -> (u16, Value) {
        let d = recv(&self.down).await;
        assert_eq!((d[0], d[3]), (2, gwmp::PULL_RESP), "{d:?}");
        let json: Value = serde_json::from_slice(&d[4..]).expect("PULL_RESP JSON");
        (u16::from_be_bytes([d[1], d[2]]), json["txpk"].clone())
    }

    async fn tx_ack(&self, token: u16, json: &[u8]) {
        let d = datagram(token, gwmp::TX_ACK, json);
        self.down.send_to(&d, self.agent).await.expect("tx ack");
    }
}

async fn recv(socket: &UdpSocket) -> Vec<u8> {
    let mut buf = vec![0u8; 65_535];
    let received = async { Some(socket.recv(&mut buf).await.expect("recv")) };
    let n = within("datagram from the agent", received).await;
    buf.truncate(n);
    buf
}

fn rxpk(payload: &[u8], stat: i32) -> Value {
    json!({"time":"2025-06-15T12:00:01.500000Z","ftime":987654321,"tmst":777,"chan":0,"rfch":0,
        "freq":904.6,"stat":stat,"modu":"LORA","datr":"SF10BW125","codr":"4/5","size":payload.len(),
        "data":B64.encode(payload),"rsig":[{"ant":0,"chan":0,"rssic":-118,"rssis":-121,"lsnr":-9.5},
        {"ant":1,"chan":0,"rssic":-112,"rssis":-114,"lsnr":-6.25}]})
}

struct Running {
    stats: Arc<AgentStats>,
    radio: Arc<GwmpCounters>,
    forwarder: Forwarder,
    stop: oneshot::Sender<()>,
    task: tokio::task::JoinHandle<Result<(), hotspot_agent::AgentError>>,
}

async fn start(
    oracle: &FakeOracle,
    oracle_key: &Keypair,
    hotspot: &Keypair,
    clock: SharedClock,
) -> Running {
    let socket = UdpSocket::bind("127.0.0.1:0").await.expect("bind");
    let radio = SemtechRadio::with_socket(socket).expect("radio");
    let (counters, addr) = (radio.counters(), radio.local_addr());
    let agent = Agent::new(
        config(oracle, oracle_key.public(), true),
        hotspot.clone(),
        clock,
    );
    let stats = agent.stats();
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(agent.run(radio, async move {
        let _ = stopped.await;
    }));
    let forwarder = Forwarder::start(addr).await;
    Running {
        stats,
        radio: counters,
        forwarder,
        stop,
        task,
    }
}

impl Running {
    async fn stop(self) {
        let _ = self.stop.send(());
        let result = tokio::time::timeout(crate::fakes::PATIENCE, self.task).await;
        result
            .expect("agent stops")
            .expect("join")
            .expect("agent ran without error");
    }
}

async fn next_beacon(oracle: &mut FakeOracle) -> BeaconReport {
    loop {
        if let Some(request::Msg::Beacon(b)) =
            within("beacon report", oracle.reports.recv()).await.msg
        {
            return b;
        }
    }
}

#[tokio::test]
async fn beacons_as_pull_resp_and_witnesses_rxpk_through_a_packet_forwarder() {
    let (oracle_key, hotspot) = (Keypair::from_seed([40; 32]), Keypair::from_seed([41; 32]));
    let clock = clock(); // one clock: the oracle's entropy must not be ahead of the agent
    let mut oracle = FakeOracle::start(oracle_key.clone(), clock.clone(), ack_all());
    let agent = start(&oracle, &oracle_key, &hotspot, clock).await;
    let forwarder = &agent.forwarder;

    let (token, txpk) = forwarder.pull_resp().await;
    assert_eq!(
        (txpk["imme"].clone(), txpk["ipol"].clone()),
        (json!(true), json!(false))
    );
    assert_eq!(
        (
            txpk["rfch"].clone(),
            txpk["codr"].clone(),
            txpk["modu"].clone()
        ),
        (json!(0), json!("4/5"), json!("LORA"))
    );
    // US915 max EIRP 36 dBm - 3 dBi antenna gain.
    assert_eq!(txpk["powe"], json!(36 - GAIN_DDBI / 10));
    let frame = B64
        .decode(txpk["data"].as_str().expect("data"))
        .expect("base64");
    assert_eq!(txpk["size"], json!(frame.len()));
    forwarder
        .tx_ack(
            token,
            br#"{"txpk_ack":{"warn":"TX_POWER","value":27,"tmst":4242}}"#,
        )
        .await;
    let beacon = next_beacon(&mut oracle).await;
    check_beacon(&beacon, &oracle, &hotspot);
    assert_eq!(
        frame,
        proprietary_frame(&beacon.data),
        "the txpk carries the reported beacon"
    );
    let freq_hz = (txpk["freq"].as_f64().expect("freq") * 1e6).round() as u64;
    assert_eq!(
        (freq_hz, txpk["datr"].as_str()),
        (beacon.frequency_hz, Some(beacon.datarate().as_str_name()))
    );
    assert_eq!(
        (beacon.tx_power_ddbm, beacon.tmst),
        (270, 4242),
        "the forwarder's adjusted power"
    );

    let foreign = proprietary_frame(&[9; 51]);
    forwarder
        .push(
            1,
            json!([
                rxpk(&frame, 1),
                rxpk(&foreign, -1),
                rxpk(&[0x40, 1, 2], 1),
                rxpk(&foreign, 1)
            ]),
        )
        .await;
    forwarder
        .up
        .send_to(b"\x02\x00", forwarder.agent)
        .await
        .expect("garbage");
    forwarder.push(2, json!([])).await; // still served after garbage
    let witness = next_witness(&mut oracle).await;
    assert_eq!(witness.data, vec![9; 51]);
    assert_eq!(
        (witness.signal_ddbm, witness.snr_ddb),
        (-1140, -63),
        "strongest antenna"
    );
    assert_eq!(
        (witness.frequency_hz, witness.datarate(), witness.tmst),
        (904_600_000, DataRate::Sf10bw125, 777)
    );
    assert_eq!(
        witness.radio_timestamp_ns, 1_749_988_801_987_654_321,
        "GPS time + fine timestamp"
    );
    let radio = agent.radio.snapshot();
    assert_eq!(
        (
            radio.push_data,
            radio.pull_data,
            radio.rxpk,
            radio.rxpk_crc_bad
        ),
        (2, 1, 4, 1)
    );
    assert_eq!(
        (radio.garbage, radio.tx_ok, radio.tx_power_adjusted),
        (1, 1, 1)
    );
    let stats = agent.stats.snapshot();
    assert_eq!(
        (
            stats.beacons_sent,
            stats.witnesses_sent,
            stats.frames_ignored
        ),
        (1, 1, 2)
    );
    agent.stop().await;
}

#[tokio::test]
async fn tx_ack_errors_and_odd_acks() {
    let (oracle_key, hotspot) = (Keypair::from_seed([42; 32]), Keypair::from_seed([43; 32]));
    let clock = clock(); // one clock: the oracle's entropy must not be ahead of the agent
    let mut oracle = FakeOracle::start(oracle_key.clone(), clock.clone(), ack_all());
    let agent = start(&oracle, &oracle_key, &hotspot, clock).await;
    let forwarder = &agent.forwarder;
    // 1: refused -> no report. 2: a lone NUL (Kerlink). 3: unreadable JSON (odd, taken as sent).
    // 4: the semtech-udp#77 shape. A TX_ACK with an unknown token is ignored.
    let acks: [&[u8]; 4] = [
        br#"{"txpk_ack":{"error":"COLLISION_PACKET"}}"#,
        b"\0",
        b"{oops",
        br#"{"txpk_ack":{"tmst":99}}"#,
    ];
    for (i, ack) in acks.iter().enumerate() {
        let (token, _) = forwarder.pull_resp().await;
        forwarder.tx_ack(token.wrapping_add(1), b"").await;
        forwarder.tx_ack(token, ack).await;
        if i > 0 {
            let beacon = next_beacon(&mut oracle).await;
            assert_eq!(beacon.tx_power_ddbm, 330, "requested power for ack {i}");
            assert_eq!(beacon.tmst, if i == 3 { 99 } else { 0 });
        }
    }
    let (radio, stats) = (agent.radio.snapshot(), agent.stats.snapshot());
    assert_eq!(
        (
            radio.tx_requested,
            radio.tx_ok,
            radio.tx_refused,
            radio.tx_ack_odd
        ),
        (4, 3, 1, 1)
    );
    assert_eq!(radio.unexpected, 4, "acks with unknown tokens");
    assert_eq!((stats.beacons_sent, stats.beacon_failures), (3, 1));
    assert!(
        oracle.reports.try_recv().is_err(),
        "the refused beacon was not reported"
    );
    agent.stop().await;
}
