//! Golden vectors: the exact bytes of every signed message, made with fixed keys.
//!
//! The agent and the oracle both use this crate, and these vectors pin its encoding, domain
//! tags, signatures and ids, so a change that would make them drift fails here first.
//! After an intentional wire change, regenerate with
//! `UPDATE_GOLDEN=1 cargo test -p schemas --test golden` and review the diff.

use prost::Message;
use schemas::Keypair;
use schemas::proto::{
    BeaconReport, DataRate, Entropy, LocationAssertion, MediumHello, WitnessReport,
};
use schemas::sign::{Signable, SingleSigned, signing_bytes};
use std::collections::BTreeMap;

fn golden() -> std::path::PathBuf {
    manifest_dir().join("tests/golden_vectors.json")
}

fn hotspot() -> Keypair {
    Keypair::from_seed([0x11; 32])
}
fn owner() -> Keypair {
    Keypair::from_seed([0x22; 32])
}
fn oracle() -> Keypair {
    Keypair::from_seed([0x33; 32])
}

fn vector<M: Signable>(m: &M) -> BTreeMap<&'static str, String> {
    BTreeMap::from([
        ("signing_bytes", hex::encode(signing_bytes(m))),
        ("encoded", hex::encode(m.encode_to_vec())),
        ("id", hex::encode(schemas::message_id(m))),
    ])
}

fn vectors() -> BTreeMap<&'static str, BTreeMap<&'static str, String>> {
    let assertion = LocationAssertion::new_signed(
        &hotspot(),
        &owner(),
        0x08c2_830d_3400_43ff,
        30,
        12,
        1_700_000_000_000,
    );
    let mut entropy = Entropy {
        data: vec![0xab; 32],
        timestamp_ms: 1_700_000_060_000,
        version: 0,
        ..Default::default()
    };
    entropy.sign_with(&oracle());
    let mut beacon = BeaconReport {
        local_entropy: vec![1, 2, 3, 4],
        remote_entropy: vec![0xab; 32],
        data: (0..51).collect(),
        frequency_hz: 904_300_000,
        datarate: DataRate::Sf9bw125 as i32,
        tx_power_ddbm: 270,
        timestamp_ms: 1_700_000_061_000,
        tmst: 123_456,
        radio_timestamp_ns: 1_700_000_061_000_123_456,
        ..Default::default()
    };
    beacon.sign_with(&hotspot());
    let mut witness = WitnessReport {
        data: (0..51).collect(),
        timestamp_ms: 1_700_000_061_500,
        tmst: 654_321,
        signal_ddbm: -1085,
        snr_ddb: -35,
        frequency_hz: 904_300_000,
        datarate: DataRate::Sf9bw125 as i32,
        radio_timestamp_ns: 1_700_000_061_000_156_789,
        ..Default::default()
    };
    witness.sign_with(&owner());
    let mut hello = MediumHello {
        timestamp_ms: 1_700_000_000_000,
        ..Default::default()
    };
    hello.sign_with(&hotspot());
    BTreeMap::from([
        ("location_assertion", vector(&assertion)),
        ("entropy", vector(&entropy)),
        ("beacon_report", vector(&beacon)),
        ("witness_report", vector(&witness)),
        ("medium_hello", vector(&hello)),
        (
            "keys",
            BTreeMap::from([
                ("hotspot", hotspot().public().to_string()),
                ("owner", owner().public().to_string()),
                ("oracle", oracle().public().to_string()),
            ]),
        ),
    ])
}

#[test]
fn golden_vectors_match() {
    let current = serde_json::to_string_pretty(&vectors()).expect("json") + "\n";
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(golden(), &current).expect("write golden file");
    }
    let pinned =
        std::fs::read_to_string(golden()).expect("golden file (UPDATE_GOLDEN=1 creates it)");
    assert_eq!(
        current, pinned,
        "wire bytes drifted from tests/golden_vectors.json"
    );
}

#[test]
fn golden_messages_verify_and_decode() {
    let v = vectors();
    let decode = |name: &str| hex::decode(&v[name]["encoded"]).expect("hex");
    let assertion =
        LocationAssertion::decode(decode("location_assertion").as_slice()).expect("decode");
    assert_eq!(
        assertion.verify().expect("verifies"),
        (hotspot().public(), owner().public())
    );
    let entropy = Entropy::decode(decode("entropy").as_slice()).expect("decode");
    assert_eq!(entropy.verify(), Ok(oracle().public()));
    let beacon = BeaconReport::decode(decode("beacon_report").as_slice()).expect("decode");
    assert_eq!(beacon.verify(), Ok(hotspot().public()));
    let witness = WitnessReport::decode(decode("witness_report").as_slice()).expect("decode");
    assert_eq!(witness.verify(), Ok(owner().public()));
    // Signing bytes start with the domain tag and a zero byte.
    let bytes = hex::decode(&v["beacon_report"]["signing_bytes"]).expect("hex");
    assert!(bytes.starts_with(b"coverage-proof/v1/BeaconReport\0"));
}

/// This package's directory, read when the test runs (`cargo test` sets it): a test binary
/// reused from a target directory shared by clones at other paths would otherwise carry the
/// path it was built at.
fn manifest_dir() -> std::path::PathBuf {
    std::env::var_os("CARGO_MANIFEST_DIR")
        .map_or_else(|| env!("CARGO_MANIFEST_DIR").into(), Into::into)
}
