use super::*;
use crate::radio::gwmp::rxpk::{RxpkSkip, rx_frame};
use schemas::proto::DataRate;
use serde_json::json;

const ID: [u8; 8] = [0xAA, 0x55, 0x5A, 0, 0, 0, 0, 1];

fn datagram(version: u8, token: u16, identifier: u8, json: &str) -> Vec<u8> {
    let mut d = vec![version, (token >> 8) as u8, token as u8, identifier];
    d.extend_from_slice(&ID);
    d.extend_from_slice(json.as_bytes());
    d
}

#[test]
fn decodes_push_data_and_acks_it() {
    let d = datagram(2, 0x1234, PUSH_DATA, r#"{"rxpk":[{"stat":1}],"stat":{}}"#);
    let Ok(Upstream::PushData { header, rxpk }) = decode(&d) else {
        panic!("push data")
    };
    assert_eq!(
        (header.token, header.gateway_id, rxpk.len()),
        (0x1234, ID, 1)
    );
    assert_eq!(push_ack(&header), [2, 0x12, 0x34, PUSH_ACK]);
    let status_only = datagram(2, 1, PUSH_DATA, r#"{"stat":{"time":"x"}}"#);
    assert!(matches!(decode(&status_only), Ok(Upstream::PushData { rxpk, .. }) if rxpk.is_empty()));
}

#[test]
fn refuses_garbage() {
    assert!(matches!(
        decode(&[2, 0, 0]),
        Err(GwmpError::TooShort { .. })
    ));
    assert_eq!(decode(&[9, 0, 0, 0]), Err(GwmpError::Version(9)));
    assert_eq!(
        decode(&datagram(2, 0, 0x42, "")),
        Err(GwmpError::Identifier(0x42))
    );
    assert_eq!(
        decode(&[2, 0, 0, PULL_ACK]),
        Err(GwmpError::Downstream(PULL_ACK))
    );
    assert!(matches!(
        decode(&[2, 0, 0, PULL_DATA, 1, 2]),
        Err(GwmpError::TooShort { .. })
    ));
    assert!(matches!(
        decode(&datagram(2, 0, PUSH_DATA, "{")),
        Err(GwmpError::Json(_))
    ));
    assert!(matches!(
        decode(&datagram(2, 0, PUSH_DATA, "[]")),
        Err(GwmpError::Json(_))
    ));
}

#[test]
fn reads_the_tx_ack_variants_real_forwarders_send() {
    let ack = |json: &str| match decode(&datagram(2, 7, TX_ACK, json)) {
        Ok(Upstream::TxAck { ack, .. }) => ack,
        other => panic!("{other:?}"),
    };
    let sent = |tmst, odd| TxAck {
        outcome: TxOutcome::Sent,
        tmst,
        odd,
    };
    assert_eq!(ack(""), sent(None, false), "no JSON");
    assert_eq!(ack("\0"), sent(None, false), "a lone NUL (Kerlink)");
    assert_eq!(ack(r#"{"txpk_ack":{"error":"NONE"}}"#), sent(None, false));
    assert_eq!(
        ack("{\"txpk_ack\":{\"error\":\"NONE\"}}\0"),
        sent(None, false)
    );
    assert_eq!(ack(r#"{"txpk_ack":{}}"#), sent(None, false));
    assert_eq!(ack(r#"{"txpk_ack":{"error":""}}"#), sent(None, false));
    assert_eq!(
        ack(r#"{"txpk_ack":{"tmst":1234}}"#),
        sent(Some(1234), false)
    );
    assert_eq!(ack("not json"), sent(None, true));
    assert_eq!(ack(r#"{"other":1}"#), sent(None, true));
    assert_eq!(
        ack(r#"{"txpk_ack":{"warn":"TX_POWER","value":27,"tmst":5}}"#),
        TxAck {
            outcome: TxOutcome::PowerAdjusted { dbm: Some(27) },
            tmst: Some(5),
            odd: false
        }
    );
    assert_eq!(
        ack(r#"{"txpk_ack":{"error":"TOO_LATE"}}"#).outcome,
        TxOutcome::Refused(TxErrorCode::TooLate)
    );
    assert_eq!(
        ack(r#"{"txpk_ack":{"error":"TX_POWER"}}"#).outcome,
        TxOutcome::Refused(TxErrorCode::TxPower)
    );
    assert_eq!(
        ack(r#"{"txpk_ack":{"error":"WEIRD"}}"#).outcome,
        TxOutcome::Refused(TxErrorCode::Other("WEIRD".into()))
    );
}

#[test]
fn pull_resp_is_an_immediate_non_inverted_txpk() {
    let frame = TxFrame {
        payload: vec![0xE0, 1, 2, 3],
        frequency_hz: 923_612_500,
        datarate: DataRate::Sf10bw125,
        power_ddbm: 270,
    };
    let d = pull_resp(2, 0xBEEF, &frame);
    assert_eq!(&d[..4], &[2, 0xBE, 0xEF, PULL_RESP]);
    let json: serde_json::Value = serde_json::from_slice(&d[4..]).expect("json");
    let txpk = &json["txpk"];
    assert_eq!(txpk["imme"], true);
    assert_eq!(txpk["ipol"], false);
    assert_eq!(
        txpk["freq"].as_f64().map(|f| (f * 1e6).round() as u64),
        Some(923_612_500)
    );
    assert_eq!(
        (txpk["powe"].clone(), txpk["rfch"].clone()),
        (json!(27), json!(0))
    );
    assert_eq!(
        (txpk["datr"].as_str(), txpk["codr"].as_str()),
        (Some("SF10BW125"), Some("4/5"))
    );
    assert_eq!(
        (txpk["modu"].as_str(), txpk["size"].clone()),
        (Some("LORA"), json!(4))
    );
    assert_eq!(txpk["data"], "4AECAw==");
}

#[test]
fn rxpk_v1_with_gps_fine_timestamp() {
    let rxpk = json!({"time":"2025-06-15T12:00:01.500000Z","ftime":123456789,"tmst":3512348611u32,
        "chan":2,"rfch":0,"freq":904.3,"stat":1,"modu":"LORA","datr":"SF9BW125","codr":"4/5",
        "rssi":-110,"rssis":-112,"lsnr":-7.5,"size":4,"data":"4AECAw=="});
    let frame = rx_frame(&rxpk).expect("frame");
    assert_eq!(
        (frame.frequency_hz, frame.datarate),
        (904_300_000, DataRate::Sf9bw125)
    );
    assert_eq!(
        (frame.rssi_ddbm, frame.snr_ddb, frame.tmst),
        (-1120, -75, 3_512_348_611)
    );
    assert_eq!(frame.payload, vec![0xE0, 1, 2, 3]);
    assert_eq!(frame.radio_timestamp_ns, 1_749_988_801_123_456_789);
    let mut no_ftime = rxpk.clone();
    no_ftime.as_object_mut().expect("object").remove("ftime");
    assert_eq!(
        rx_frame(&no_ftime).expect("frame").radio_timestamp_ns,
        1_749_988_801_500_000_000
    );
}

#[test]
fn rxpk_v2_takes_the_strongest_antenna() {
    let rxpk = json!({"jver":2,"tmst":1,"freq":868.1,"stat":1,"modu":"LORA","datr":"SF12BW125",
        "size":1,"data":"4A==","tmms":1_000_000_000_000u64,
        "rsig":[{"ant":0,"chan":0,"rssic":-100,"rssis":-104,"lsnr":-3.25},
                {"ant":1,"chan":0,"rssic":-95,"lsnr":2.0}]});
    let frame = rx_frame(&rxpk).expect("frame");
    assert_eq!((frame.rssi_ddbm, frame.snr_ddb), (-950, 20));
    // GPS ms since 1980-01-06, minus 18 leap seconds.
    assert_eq!(
        frame.radio_timestamp_ns,
        (315_964_800_000 - 18_000 + 1_000_000_000_000) * 1_000_000
    );
}

#[test]
fn rxpk_that_is_no_witness_candidate() {
    let base = json!({"freq":904.3,"stat":1,"modu":"LORA","datr":"SF9BW125","rssi":-100,"lsnr":1,"data":"4A=="});
    let with = |key: &str, value: serde_json::Value| {
        let mut v = base.clone();
        v[key] = value;
        rx_frame(&v)
    };
    assert!(rx_frame(&base).is_ok());
    assert_eq!(with("stat", json!(-1)), Err(RxpkSkip::Crc(-1)));
    assert_eq!(with("stat", json!(0)), Err(RxpkSkip::Crc(0)));
    assert_eq!(
        with("modu", json!("FSK")),
        Err(RxpkSkip::Modulation("FSK".into()))
    );
    assert_eq!(with("datr", json!(50000)), Err(RxpkSkip::Field("datr")));
    assert_eq!(
        with("datr", json!("SF13BW125")),
        Err(RxpkSkip::Field("datr"))
    );
    assert_eq!(with("freq", json!("x")), Err(RxpkSkip::Field("freq")));
    assert_eq!(with("data", json!("***")), Err(RxpkSkip::Field("data")));
    assert_eq!(rx_frame(&json!([1])), Err(RxpkSkip::NotAnObject));
}
