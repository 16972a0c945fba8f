//! Random and mutated datagrams on the GWMP side: never a panic, the radio keeps serving.

use hotspot_agent::radio::gwmp::{self, Upstream, rxpk::rx_frame};
use hotspot_agent::radio::semtech::SemtechRadio;
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use tokio::net::UdpSocket;

const VALID: &[&[u8]] = &[
    b"\x02\x12\x34\x00\xaa\x55\x5a\x00\x00\x00\x00\x01{\"rxpk\":[{\"time\":\"2025-06-15T12:00:01.5Z\",\"tmst\":1,\"freq\":904.3,\"stat\":1,\"modu\":\"LORA\",\"datr\":\"SF9BW125\",\"rssi\":-100,\"lsnr\":5.5,\"size\":2,\"data\":\"4AE=\",\"rsig\":[{\"rssis\":-90,\"lsnr\":1}]}]}",
    b"\x02\x00\x01\x05\xaa\x55\x5a\x00\x00\x00\x00\x01{\"txpk_ack\":{\"warn\":\"TX_POWER\",\"value\":27,\"tmst\":5}}\x00",
    b"\x02\x00\x01\x02\xaa\x55\x5a\x00\x00\x00\x00\x01",
];

/// Everything the agent does with a datagram, minus the socket.
fn digest(datagram: &[u8]) {
    if let Ok(Upstream::PushData { rxpk, .. }) = gwmp::decode(datagram) {
        for packet in &rxpk {
            let _ = rx_frame(packet);
        }
    }
}

fn mutated() -> impl Strategy<Value = Vec<u8>> {
    (
        0..VALID.len(),
        proptest::collection::vec((any::<usize>(), any::<u8>(), 0u8..3), 1..8),
    )
        .prop_map(|(i, edits)| {
            let mut d = VALID[i].to_vec();
            for (at, byte, op) in edits {
                let at = at % (d.len() + 1);
                match op {
                    0 if at < d.len() => d[at] = byte,
                    1 => d.insert(at, byte),
                    _ => d.truncate(at),
                }
            }
            d
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(3000))]

    #[test]
    fn random_datagrams_never_panic(d in proptest::collection::vec(any::<u8>(), 0..600)) {
        digest(&d);
    }

    #[test]
    fn mutated_datagrams_never_panic(d in mutated()) {
        digest(&d);
    }

    #[test]
    fn random_json_in_a_valid_header_never_panics(json in "\\PC{0,300}") {
        let mut d = b"\x02\x00\x01\x00\xaa\x55\x5a\x00\x00\x00\x00\x01".to_vec();
        d.extend_from_slice(json.as_bytes());
        digest(&d);
        d[3] = gwmp::TX_ACK;
        digest(&d);
    }
}

#[tokio::test]
async fn the_radio_survives_a_garbage_storm() {
    let radio = SemtechRadio::with_socket(UdpSocket::bind("127.0.0.1:0").await.expect("bind"))
        .expect("radio");
    let socket = UdpSocket::bind("127.0.0.1:0").await.expect("bind");
    let mut runner = proptest::test_runner::TestRunner::deterministic();
    for _ in 0..500 {
        let d = mutated().new_tree(&mut runner).expect("value").current();
        socket.send_to(&d, radio.local_addr()).await.expect("send");
    }
    socket
        .send_to(VALID[2], radio.local_addr())
        .await
        .expect("pull data");
    let mut buf = [0u8; 64];
    loop {
        let n = tokio::time::timeout(crate::fakes::PATIENCE, socket.recv(&mut buf))
            .await
            .expect("answer")
            .expect("recv");
        if buf[..n] == [2, 0, 1, gwmp::PULL_ACK] {
            break; // earlier valid PULL_DATA/PUSH_DATA mutants are acked too
        }
    }
    let counters = radio.counters().snapshot();
    assert!(counters.garbage > 0, "{counters:?}");
}
