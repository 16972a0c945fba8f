//! The radio medium over real QUIC on loopback, with raw quinn clients as agents.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use prost::Message;
use quinn::{Connection, ConnectionError, RecvStream, SendStream};
use schemas::clock::{SharedClock, SystemClock};
use schemas::proto::{
    DataRate, MediumDown, MediumHello, MediumReception, MediumTransmit, MediumTxDone, MediumUp,
    medium_down, medium_up,
};
use schemas::sign::SingleSigned;
use schemas::{Keypair, PublicKey};
use simulator::medium::frame::read_frame;
use simulator::medium::{CloseCode, Medium, Node};
use simulator::radio_model::{
    Link, RadioParams, SPEED_OF_LIGHT_M_PER_S, haversine_m, link_shadowing_db,
};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use transport::{ALPN_MEDIUM, client_config, client_endpoint, server_config};

const SEED: u64 = 20240601;
const WAIT: Duration = Duration::from_secs(5);
const FREQ_HZ: u64 = 904_600_000;
/// Degrees of latitude per metre along a meridian (haversine on the medium's Earth radius).
const DEG_PER_M: f64 = 1.0 / 111_195.08;

fn key(seed: u8) -> Keypair {
    Keypair::from_seed([seed; 32])
}

/// A (seed 1) at the origin, B (seed 2) 2 km north, C (seed 3) 500 km north.
fn nodes() -> Vec<Node> {
    let node = |seed, north_m: f64| Node {
        key: key(seed).public(),
        lat: 45.0 + north_m * DEG_PER_M,
        lng: 5.0,
        gain_dbi: 3.0,
        elevation_m: 10.0,
    };
    vec![node(1, 0.0), node(2, 2_000.0), node(3, 500_000.0)]
}

struct Net {
    medium: Arc<Medium>,
    addr: SocketAddr,
    medium_key: PublicKey,
    clock: SharedClock,
    shutdown: oneshot::Sender<()>,
    server: JoinHandle<()>,
}

async fn start() -> Net {
    let identity = key(100);
    let config = server_config(&identity, ALPN_MEDIUM).expect("server config");
    let endpoint =
        quinn::Endpoint::server(config, "127.0.0.1:0".parse().expect("addr")).expect("bind");
    let addr = endpoint.local_addr().expect("addr");
    let clock: SharedClock = Arc::new(SystemClock);
    let medium = Arc::new(Medium::new(
        RadioParams::default(),
        nodes(),
        clock.clone(),
        SEED,
    ));
    let (shutdown, stop) = oneshot::channel::<()>();
    let server = tokio::spawn(Arc::clone(&medium).serve(endpoint, async move {
        let _ = stop.await;
    }));
    Net {
        medium,
        addr,
        medium_key: identity.public(),
        clock,
        shutdown,
        server,
    }
}

struct Agent {
    connection: Connection,
    send: SendStream,
    recv: RecvStream,
    _endpoint: quinn::Endpoint,
}

impl Agent {
    /// Connects and says hello as `signer`, claiming `claimed` as the hotspot key.
    async fn connect_as(net: &Net, signer: &Keypair, claimed: PublicKey) -> Self {
        let mut endpoint = client_endpoint().expect("client endpoint");
        endpoint
            .set_default_client_config(client_config(net.medium_key, ALPN_MEDIUM).expect("config"));
        let connecting = endpoint
            .connect(net.addr, "coverage-proof")
            .expect("connect");
        let connection = connecting.await.expect("handshake");
        let (send, recv) = connection.open_bi().await.expect("open stream");
        let mut hello = MediumHello {
            timestamp_ms: net.clock.now_ms(),
            ..Default::default()
        };
        hello.sign_with(signer);
        hello.hotspot_key = claimed.to_vec();
        let mut agent = Self {
            connection,
            send,
            recv,
            _endpoint: endpoint,
        };
        agent.send_up(medium_up::Msg::Hello(hello)).await;
        agent
    }

    async fn connect(net: &Net, key: &Keypair) -> Self {
        Self::connect_as(net, key, key.public()).await
    }

    async fn send_up(&mut self, msg: medium_up::Msg) {
        let bytes = MediumUp { msg: Some(msg) }.encode_length_delimited_to_vec();
        self.send.write_all(&bytes).await.expect("write");
    }

    async fn transmit(&mut self, payload: &[u8]) {
        let transmit = MediumTransmit {
            payload: payload.to_vec(),
            frequency_hz: FREQ_HZ,
            datarate: DataRate::Sf10bw125.into(),
            tx_power_ddbm: 270,
        };
        self.send_up(medium_up::Msg::Transmit(transmit)).await;
    }

    async fn next(&mut self) -> medium_down::Msg {
        let read = tokio::time::timeout(WAIT, read_frame::<MediumDown, _>(&mut self.recv));
        let down = read
            .await
            .expect("message in time")
            .expect("frame")
            .expect("stream open");
        down.msg.expect("non-empty message")
    }

    async fn tx_done(&mut self) -> MediumTxDone {
        match self.next().await {
            medium_down::Msg::TxDone(done) => done,
            other => panic!("expected tx_done, got {other:?}"),
        }
    }

    async fn reception(&mut self) -> MediumReception {
        match self.next().await {
            medium_down::Msg::Reception(reception) => reception,
            other => panic!("expected a reception, got {other:?}"),
        }
    }

    /// The application close code the medium closed this connection with.
    async fn close_code(&self) -> u64 {
        let closed = tokio::time::timeout(WAIT, self.connection.closed())
            .await
            .expect("closed in time");
        match closed {
            ConnectionError::ApplicationClosed(close) => close.error_code.into_inner(),
            other => panic!("expected an application close, got {other}"),
        }
    }
}

/// Waits until the medium routes to every one of `keys` (the hello is processed asynchronously).
async fn joined(net: &Net, keys: &[PublicKey]) {
    let all = async {
        while !keys.iter().all(|k| net.medium.stats().nodes[k].connected) {
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    };
    tokio::time::timeout(WAIT, all)
        .await
        .expect("agents joined");
}

async fn stop(net: Net) {
    net.shutdown.send(()).expect("server running");
    tokio::time::timeout(WAIT, net.server)
        .await
        .expect("shutdown in time")
        .expect("serve task");
}

#[tokio::test]
async fn near_node_hears_far_node_does_not_and_sender_gets_tx_done() {
    let net = start().await;
    let (ka, kb, kc) = (key(1), key(2), key(3));
    let (mut a, mut b, mut c) = (
        Agent::connect(&net, &ka).await,
        Agent::connect(&net, &kb).await,
        Agent::connect(&net, &kc).await,
    );
    joined(&net, &[ka.public(), kb.public(), kc.public()]).await;

    a.transmit(b"beacon-1").await;
    let done = a.tx_done().await;
    assert_eq!(done.tx_power_ddbm, 270);
    let heard = b.reception().await;
    assert_eq!(heard.payload, b"beacon-1");
    assert_eq!(
        (heard.frequency_hz, heard.datarate),
        (FREQ_HZ, i32::from(DataRate::Sf10bw125))
    );

    let [na, nb, _] = <[Node; 3]>::try_from(nodes()).expect("three nodes");
    let distance_m = haversine_m(na.lat, na.lng, nb.lat, nb.lng);
    assert!((distance_m - 2_000.0).abs() < 0.1, "{distance_m}");
    let flight_ns = distance_m / SPEED_OF_LIGHT_M_PER_S * 1e9;
    let delay_ns = heard.radio_timestamp_ns as f64 - done.radio_timestamp_ns as f64;
    assert!(
        (delay_ns - flight_ns).abs() < 1_000.0,
        "delay {delay_ns} ns vs flight {flight_ns} ns"
    );

    let params = RadioParams::default();
    let link = Link {
        distance_m,
        freq_hz: FREQ_HZ,
        sf: 10,
        bandwidth_hz: 125_000,
        tx_power_dbm: 27.0,
        tx_gain_dbi: 3.0,
        rx_gain_dbi: 3.0,
        link_shadowing_db: 0.0,
    };
    let shadow = link_shadowing_db(
        SEED,
        na.key.as_bytes(),
        nb.key.as_bytes(),
        params.link_shadowing_sigma_db,
    );
    let mean_dbm = params.mean_rssi_dbm(&link) - shadow;
    let rssi_dbm = f64::from(heard.rssi_ddbm) / 10.0;
    let band_db = 4.0 * params.shadowing_sigma_db + 0.5;
    println!(
        "B: RSSI {rssi_dbm} dBm (link mean {mean_dbm:.1}), SNR {} dB/10, delay {delay_ns} ns (flight {flight_ns:.1})",
        heard.snr_ddb
    );
    assert!(
        (rssi_dbm - mean_dbm).abs() <= band_db,
        "RSSI {rssi_dbm} vs link mean {mean_dbm}"
    );
    assert!(
        heard.snr_ddb > 0 && heard.snr_ddb <= 120,
        "strong signal SNR {}",
        heard.snr_ddb
    );

    // C's queue is FIFO and A's transmit was fully processed before C's: if C's first message
    // is its own tx_done, it heard nothing from A.
    c.transmit(b"far").await;
    c.tx_done().await;

    // The sender's counter advances in microseconds with the medium's clock.
    a.transmit(b"beacon-2").await;
    let again = a.tx_done().await;
    let elapsed_us = (again.radio_timestamp_ns - done.radio_timestamp_ns) / 1_000;
    assert!(
        again
            .tmst
            .wrapping_sub(done.tmst)
            .abs_diff(elapsed_us as u32)
            <= 1
    );
    assert_eq!(b.reception().await.payload, b"beacon-2");

    let stats = net.medium.stats();
    assert_eq!(stats.transmissions, 3);
    assert_eq!(stats.receptions_delivered, 2);
    assert_eq!(stats.nodes[&kb.public()].receptions, 2);
    assert_eq!(stats.nodes[&kc.public()].receptions, 0);
    assert_eq!(stats.nodes[&ka.public()].transmissions, 2);
    assert!(
        serde_json::to_string(&stats)
            .expect("json")
            .contains("receptions_delivered")
    );
    stop(net).await;
    assert_eq!(a.close_code().await, CloseCode::Normal as u64);
}

#[tokio::test]
async fn hello_with_wrong_signature_or_unknown_key_is_refused() {
    let net = start().await;
    let impostor = Agent::connect_as(&net, &key(9), key(1).public()).await;
    assert_eq!(impostor.close_code().await, CloseCode::Refused as u64);
    let stranger = Agent::connect(&net, &key(9)).await;
    assert_eq!(stranger.close_code().await, CloseCode::Refused as u64);
    let stats = net.medium.stats();
    assert_eq!(stats.connections_refused, 2);
    assert!(!stats.nodes[&key(1).public()].connected);
    stop(net).await;
}

#[tokio::test]
async fn garbage_or_oversized_input_closes_only_that_connection() {
    let net = start().await;
    let (ka, kb, kc) = (key(1), key(2), key(3));
    let mut a = Agent::connect(&net, &ka).await;
    let mut b = Agent::connect(&net, &kb).await;
    let mut c = Agent::connect(&net, &kc).await;
    joined(&net, &[ka.public(), kb.public(), kc.public()]).await;

    b.send
        .write_all(&[4, 0xff, 0xff, 0xff, 0xff])
        .await
        .expect("write garbage");
    assert_eq!(b.close_code().await, CloseCode::ProtocolError as u64);
    let oversized = MediumUp {
        msg: Some(medium_up::Msg::Transmit(MediumTransmit {
            payload: vec![0; 5_000],
            ..Default::default()
        })),
    };
    c.send
        .write_all(&oversized.encode_length_delimited_to_vec())
        .await
        .expect("write");
    assert_eq!(c.close_code().await, CloseCode::ProtocolError as u64);

    a.transmit(b"still here").await;
    a.tx_done().await;
    let stats = net.medium.stats();
    assert!(stats.nodes[&ka.public()].connected);
    assert_eq!(stats.receptions_delivered, 0);
    assert_eq!(
        stats.receptions_missed_disconnected, 1,
        "B heard it but is gone"
    );
    stop(net).await;
}

#[tokio::test]
async fn malformed_transmit_and_second_hello_are_protocol_errors() {
    let net = start().await;
    let mut a = Agent::connect(&net, &key(1)).await;
    let bad = MediumTransmit {
        payload: vec![1],
        frequency_hz: FREQ_HZ,
        datarate: 0,
        tx_power_ddbm: 270,
    };
    a.send_up(medium_up::Msg::Transmit(bad)).await;
    assert_eq!(a.close_code().await, CloseCode::ProtocolError as u64);

    let mut b = Agent::connect(&net, &key(2)).await;
    b.send_up(medium_up::Msg::Hello(MediumHello::default()))
        .await;
    assert_eq!(b.close_code().await, CloseCode::ProtocolError as u64);
    stop(net).await;
}

#[tokio::test]
async fn a_new_connection_supersedes_the_old_one() {
    let net = start().await;
    let old = Agent::connect(&net, &key(1)).await;
    joined(&net, &[key(1).public()]).await;
    let mut new = Agent::connect(&net, &key(1)).await;
    assert_eq!(old.close_code().await, CloseCode::Superseded as u64);
    joined(&net, &[key(1).public()]).await;
    new.transmit(b"hi").await;
    new.tx_done().await;
    stop(net).await;
}
