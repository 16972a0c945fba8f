//! The `assert` command, run as a process against the fake oracle.

use crate::fakes::{self, FakeOracle, ack, reject, within};
use schemas::Keypair;
use schemas::proto::{RejectReason, Request, request};
use std::sync::Arc;

async fn cli(args: &[&str]) -> std::process::Output {
    let run = tokio::process::Command::new(env!("CARGO_BIN_EXE_hotspot-agent"))
        .args(args)
        .env("RUST_LOG", "warn")
        .output();
    tokio::time::timeout(fakes::PATIENCE, run)
        .await
        .expect("command finishes")
        .expect("command runs")
}

#[tokio::test]
async fn the_assert_command_sends_a_co_signed_assertion_and_records_the_gain() {
    let (oracle_key, owner) = (Keypair::from_seed([16; 32]), Keypair::from_seed([17; 32]));
    let policy: fakes::Policy = Arc::new(|request: &Request, n| {
        if n == 0 {
            ack(request)
        } else {
            reject(RejectReason::StaleAssertion)
        }
    });
    let mut oracle = FakeOracle::start(oracle_key.clone(), crate::clock(), policy);
    let dir = tempfile::tempdir().expect("tempdir");
    let path = |name: &str| dir.path().join(name).display().to_string();
    let (address, key) = (oracle.addr.to_string(), oracle_key.public().to_string());
    let init = cli(&[
        "init",
        "--dir",
        &path(""),
        "--oracle",
        &address,
        "--oracle-key",
        &key,
    ])
    .await;
    assert!(init.status.success(), "{init:?}");
    let hotspot = Keypair::read_file(&dir.path().join("hotspot.key")).expect("key file");
    assert_eq!(
        String::from_utf8_lossy(&init.stdout).trim(),
        hotspot.public().to_string()
    );
    owner
        .write_new_file(&dir.path().join("owner.key"))
        .expect("owner key");

    let settings = path("settings.toml");
    let assert = |gain: &'static str| {
        let (settings, owner_key) = (settings.clone(), path("owner.key"));
        async move {
            let args = [
                "assert",
                "--settings",
                &settings,
                "--owner-key",
                &owner_key,
                "--lat",
                "37.7749",
                "--lng",
                "-122.4194",
            ];
            cli(&[&args[..], &["--gain", gain, "--elevation", "12"]].concat()).await
        }
    };
    let accepted = assert("5.8").await;
    assert!(accepted.status.success(), "{accepted:?}");
    let Some(request::Msg::AssertLocation(assertion)) =
        within("assertion", oracle.reports.recv()).await.msg
    else {
        panic!("not an assertion");
    };
    assert_eq!(assertion.verify(), Ok((hotspot.public(), owner.public())));
    let cell = h3o::LatLng::new(37.7749, -122.4194)
        .expect("coords")
        .to_cell(h3o::Resolution::Twelve);
    assert_eq!(
        (
            assertion.location,
            assertion.gain_ddbi,
            assertion.elevation_m
        ),
        (u64::from(cell), 58, 12)
    );
    let load = || {
        hotspot_agent::settings::Settings::load_with_env(
            &dir.path().join("settings.toml"),
            Vec::new(),
        )
    };
    assert_eq!(
        load().expect("settings").antenna_gain_ddbi(),
        58,
        "accepted gain written to the settings"
    );

    let rejected = assert("7.0").await;
    assert_eq!(rejected.status.code(), Some(1), "{rejected:?}");
    assert!(String::from_utf8_lossy(&rejected.stdout).contains("StaleAssertion"));
    assert_eq!(
        load().expect("settings").antenna_gain_ddbi(),
        58,
        "a rejected gain is not written"
    );
}
