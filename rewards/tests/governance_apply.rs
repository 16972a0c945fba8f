//! Governance end to end on SQLite and PostgreSQL: M-of-N signatures, the version and epoch
//! rules, a change taking effect at its effective epoch only, the append-only audit history,
//! and the `rewards governance` CLI in fresh processes.

use rewards::governance::proposal::{Proposal, SignatureFile, sidecar_path};
use rewards::governance::{GovernanceError, RuleError, apply, genesis, store};
use schemas::parameters::ParameterSet;
use schemas::{Keypair, PublicKey};
use sqlx::AnyPool;
use std::path::Path;

const DAY_MS: u64 = 24 * 3600 * 1000;
/// "Now": an hour into epoch 20779 (2026-11-22 UTC).
const NOW_MS: u64 = 20_779 * DAY_MS + 3600 * 1000;

struct Governance {
    members: Vec<Keypair>,
    keys: Vec<PublicKey>,
}

fn governance() -> Governance {
    let members: Vec<Keypair> = (1..=3).map(|i| Keypair::from_seed([i; 32])).collect();
    let keys = members.iter().map(Keypair::public).collect();
    Governance { members, keys }
}

fn proposal(version: u64, effective_epoch: u64, beacon_bps: u32) -> Proposal {
    let mut set = ParameterSet {
        version,
        effective_epoch,
        ..ParameterSet::default()
    };
    set.split.beacon_bps = beacon_bps;
    Proposal::parse(set.to_toml(), Path::new("proposal.toml")).expect("valid proposal")
}

fn signed_by(proposal: &Proposal, signers: &[&Keypair]) -> SignatureFile {
    let mut file = SignatureFile::new(proposal);
    for key in signers {
        file.sign(proposal, key);
    }
    file
}

async fn insert_manifest(pool: &AnyPool, epoch: i64) {
    sqlx::query(
        "INSERT INTO reward_manifests (epoch, manifest_hash, manifest, computed_ms) VALUES ($1, $2, $3, 0)",
    )
    .bind(epoch)
    .bind(vec![1u8; 32])
    .bind(vec![2u8; 8])
    .execute(pool)
    .await
    .expect("manifest");
}

#[tokio::test]
async fn too_few_outsider_or_tampered_signatures_are_refused() {
    let gov = governance();
    let [a, b, c] = [&gov.members[0], &gov.members[1], &gov.members[2]];
    let outsiders: Vec<Keypair> = (7..=9).map(|i| Keypair::from_seed([i; 32])).collect();
    for db in db::test_support::both().await.expect("databases") {
        let pool = db.db.pool();
        let p = proposal(2, 20_781, 1_000);
        let refused = |r: Result<_, GovernanceError>| match r {
            Err(GovernanceError::TooFewSignatures { valid, threshold }) => (valid, threshold),
            other => panic!("{}: expected too few signatures, got {other:?}", db.name),
        };

        let one = signed_by(&p, &[a]);
        assert_eq!(
            refused(apply(pool, &p, &one, &gov.keys, 2, NOW_MS).await),
            (1, 2)
        );

        let with_outsiders = signed_by(&p, &[a, &outsiders[0], &outsiders[1], &outsiders[2]]);
        assert_eq!(
            refused(apply(pool, &p, &with_outsiders, &gov.keys, 2, NOW_MS).await),
            (1, 2),
            "{}: outsiders' signatures do not count",
            db.name
        );

        // The proposal edited after signing: the signature file no longer matches it ...
        let good = signed_by(&p, &[a, b]);
        let edited = proposal(2, 20_781, 1_001);
        assert!(matches!(
            good.ensure_matches(Path::new("p.sigs.json"), &edited),
            Err(GovernanceError::SidecarMismatch { .. })
        ));
        // ... and relabelling the file with the edited proposal's hash does not help: the
        // signatures were over the original contents.
        let mut relabelled = good.clone();
        relabelled.parameters_hash = hex::encode(edited.set.hash());
        relabelled
            .ensure_matches(Path::new("p.sigs.json"), &edited)
            .expect("labels match now");
        assert_eq!(
            refused(apply(pool, &edited, &relabelled, &gov.keys, 2, NOW_MS).await),
            (0, 2)
        );
        // A tampered signature does not verify.
        let mut forged = good.clone();
        let mut bytes = hex::decode(&forged.signatures[0].signature).expect("hex");
        bytes[0] ^= 1;
        forged.signatures[0].signature = hex::encode(bytes);
        assert_eq!(
            refused(apply(pool, &p, &forged, &gov.keys, 2, NOW_MS).await),
            (1, 2)
        );
        // No governance configured: refused clearly.
        assert!(matches!(
            apply(pool, &p, &good, &[], 0, NOW_MS).await,
            Err(GovernanceError::NotConfigured(_))
        ));
        assert!(
            store::history(pool).await.expect("history").is_empty(),
            "{}: nothing was applied",
            db.name
        );

        // 2 of 3 (the outsiders' entries are ignored, not recorded).
        let mut enough = signed_by(&p, &[a, c, &outsiders[0]]);
        enough.sign(&p, c);
        let applied = apply(pool, &p, &enough, &gov.keys, 2, NOW_MS)
            .await
            .expect("2 of 3 applies");
        let mut expected = vec![a.public(), c.public()];
        expected.sort();
        assert_eq!(applied.signers, expected);
    }
}

#[tokio::test]
async fn version_and_epoch_rules() {
    let gov = governance();
    let signers = [&gov.members[0], &gov.members[1]];
    for db in db::test_support::both().await.expect("databases") {
        let pool = db.db.pool();
        let try_apply = |p: Proposal| {
            let file = signed_by(&p, &signers);
            let keys = gov.keys.clone();
            async move { apply(pool, &p, &file, &keys, 2, NOW_MS).await }
        };
        assert!(matches!(
            try_apply(proposal(3, 20_781, 1_000)).await,
            Err(GovernanceError::Rule(RuleError::Version {
                version: 3,
                latest: 1
            }))
        ));
        for past in [0, 20_778, 20_779] {
            assert!(
                matches!(
                    try_apply(proposal(2, past, 1_000)).await,
                    Err(GovernanceError::Rule(RuleError::NotInFuture { .. }))
                ),
                "{}: epoch {past}",
                db.name
            );
        }
        let mut hourly = proposal(2, 20_781, 1_000);
        hourly.set.epoch = std::time::Duration::from_secs(3600);
        hourly.text = hourly.set.to_toml();
        assert!(matches!(
            try_apply(hourly).await,
            Err(GovernanceError::Rule(RuleError::EpochLength { .. }))
        ));
        insert_manifest(pool, 20_785).await;
        assert!(matches!(
            try_apply(proposal(2, 20_785, 1_000)).await,
            Err(GovernanceError::Rule(RuleError::AlreadyRewarded {
                manifest_epoch: 20_785,
                ..
            }))
        ));
        try_apply(proposal(2, 20_790, 1_000))
            .await
            .expect("next version after the last manifest");
        assert!(matches!(
            try_apply(proposal(2, 20_795, 1_100)).await,
            Err(GovernanceError::Rule(RuleError::Version {
                version: 2,
                latest: 2
            }))
        ));
        assert!(matches!(
            try_apply(proposal(3, 20_789, 1_100)).await,
            Err(GovernanceError::Rule(RuleError::BeforeScheduled { .. }))
        ));
        try_apply(proposal(3, 20_790, 1_100))
            .await
            .expect("a new version may replace a scheduled one at the same epoch");
    }
}

#[tokio::test]
async fn a_change_takes_effect_at_its_effective_epoch_only() {
    let gov = governance();
    for db in db::test_support::both().await.expect("databases") {
        let pool = db.db.pool();
        let p = proposal(2, 20_781, 1_000);
        let file = signed_by(&p, &[&gov.members[1], &gov.members[2]]);
        apply(pool, &p, &file, &gov.keys, 2, NOW_MS)
            .await
            .expect("apply");
        let before = db::parameters::in_force(pool, 20_780).await.expect("E-1");
        let after = db::parameters::in_force(pool, 20_781).await.expect("E");
        let later = db::parameters::in_force(pool, 30_000).await.expect("later");
        assert_eq!(
            before,
            ParameterSet::default(),
            "{}: E-1 keeps genesis",
            db.name
        );
        assert_eq!(before.split.beacon_bps, 1_600);
        assert_eq!(after, p.set);
        assert_eq!(after.split.beacon_bps, 1_000);
        assert_eq!(later, p.set);
    }
}

#[tokio::test]
async fn the_audit_history_lists_signers_and_is_append_only() {
    let gov = governance();
    for db in db::test_support::both().await.expect("databases") {
        let pool = db.db.pool();
        let explicit = Proposal::parse(
            include_str!("../pkg/parameters-genesis.toml").to_string(),
            Path::new("parameters-genesis.toml"),
        )
        .expect("genesis file");
        genesis(pool, &explicit, NOW_MS - 10)
            .await
            .expect("genesis");
        assert!(matches!(
            genesis(pool, &explicit, NOW_MS).await,
            Err(GovernanceError::Rule(RuleError::Genesis(_)))
        ));
        let p2 = proposal(2, 20_781, 1_000);
        apply(
            pool,
            &p2,
            &signed_by(&p2, &[&gov.members[0], &gov.members[1]]),
            &gov.keys,
            2,
            NOW_MS,
        )
        .await
        .expect("v2");
        let p3 = proposal(3, 20_800, 1_200);
        let all: Vec<&Keypair> = gov.members.iter().collect();
        apply(pool, &p3, &signed_by(&p3, &all), &gov.keys, 2, NOW_MS + 1)
            .await
            .expect("v3");

        let history = store::history(pool).await.expect("history");
        let summary: Vec<(u64, u64, usize)> = history
            .iter()
            .map(|s| (s.version, s.effective_epoch, s.signers.len()))
            .collect();
        assert_eq!(summary, vec![(1, 0, 0), (2, 20_781, 2), (3, 20_800, 3)]);
        let mut first_two = vec![gov.members[0].public(), gov.members[1].public()];
        first_two.sort();
        assert_eq!(history[1].signers, first_two);
        assert_eq!(history[2].hash, hex::encode(p3.set.hash()));
        assert_eq!(history[2].applied_ms, NOW_MS + 1);

        // The stored text is the proposal as written (comments included).
        let text: String =
            sqlx::query_scalar("SELECT parameters FROM parameter_sets WHERE version = 1")
                .fetch_one(pool)
                .await
                .expect("text");
        assert!(text.contains("# Genesis governance parameter set"));

        for statement in [
            "UPDATE parameter_sets SET effective_epoch = 1 WHERE version = 2",
            "DELETE FROM parameter_sets WHERE version = 3",
            "DELETE FROM parameter_signatures",
        ] {
            assert!(
                sqlx::query(statement).execute(pool).await.is_err(),
                "{}: {statement} must be refused",
                db.name
            );
        }
        assert_eq!(store::history(pool).await.expect("history"), history);
    }
}

#[tokio::test]
async fn genesis_is_refused_once_an_epoch_was_rewarded() {
    for db in db::test_support::both().await.expect("databases") {
        let pool = db.db.pool();
        insert_manifest(pool, 5).await;
        let explicit = proposal(1, 0, 1_600);
        assert!(matches!(
            genesis(pool, &explicit, NOW_MS).await,
            Err(GovernanceError::Rule(RuleError::Genesis(_)))
        ));
    }
}

/// The operator flow through the binary, each step a fresh process: two members sign offline,
/// the operator checks and applies, the history shows both signers.
#[test]
fn cli_sign_check_apply_history() {
    let dir = tempfile::tempdir().expect("tempdir");
    let gov = governance();
    for (i, member) in gov.members.iter().enumerate() {
        std::fs::write(dir.path().join(format!("gov{i}.json")), member.to_json()).expect("key");
    }
    let keys: Vec<String> = gov.keys.iter().map(|k| format!("\"{k}\"")).collect();
    let settings = dir.path().join("settings.toml");
    std::fs::write(
        &settings,
        format!(
            "database_url = \"sqlite://{}\"\n[governance]\nkeys = [{}]\nthreshold = 2\n",
            dir.path().join("oracle.db").display(),
            keys.join(", ")
        ),
    )
    .expect("settings");
    let now_epoch = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_millis() as u64
        / DAY_MS;
    let mut set = ParameterSet {
        version: 2,
        effective_epoch: now_epoch + 2,
        ..ParameterSet::default()
    };
    set.split.witness_bps = 7_000;
    let proposal = dir.path().join("raise.toml");
    std::fs::write(&proposal, format!("# raise witnesses\n{}", set.to_toml())).expect("proposal");

    let rewards = |args: &[&str]| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_rewards"))
            .arg("--config")
            .arg(&settings)
            .args(args)
            .output()
            .expect("run rewards");
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let p = proposal.to_str().expect("utf-8 path");
    let key = |i: usize| {
        dir.path()
            .join(format!("gov{i}.json"))
            .display()
            .to_string()
    };

    let (ok, _, err) = rewards(&["governance", "sign", p, "--key", &key(0)]);
    assert!(ok, "{err}");
    let (ok, _, err) = rewards(&["governance", "apply", p]);
    assert!(!ok, "one signature of two is refused");
    assert!(
        err.contains("1 valid signature(s) from governance keys, 2 required"),
        "{err}"
    );
    // The second member signs a copy of the proposal elsewhere; the operator merges it in.
    let copy = dir.path().join("member2.toml");
    std::fs::copy(&proposal, &copy).expect("copy");
    let c = copy.to_str().expect("utf-8 path");
    let (ok, _, err) = rewards(&["governance", "sign", c, "--key", &key(2)]);
    assert!(ok, "{err}");
    let member2 = sidecar_path(&copy).display().to_string();
    let (ok, out, err) = rewards(&["governance", "merge", p, &member2]);
    assert!(ok && out.contains("2 signature(s)"), "{out}{err}");
    assert!(sidecar_path(&proposal).exists());
    let (ok, out, err) = rewards(&["governance", "check", p]);
    assert!(ok && out.contains("would apply"), "{out}{err}");
    let (ok, out, err) = rewards(&["governance", "apply", p]);
    assert!(ok && out.contains("applied version 2"), "{out}{err}");
    let (ok, out, err) = rewards(&["governance", "apply", p]);
    assert!(
        !ok && err.contains("not the next version"),
        "applied once: {out}{err}"
    );

    let (ok, out, err) = rewards(&["governance", "history", "--json"]);
    assert!(ok, "{err}");
    let history: serde_json::Value = serde_json::from_str(&out).expect("json");
    assert_eq!(history[0]["version"], 2);
    let signers = history[0]["signers"].as_array().expect("signers");
    assert_eq!(signers.len(), 2);
    for member in [0, 2] {
        let key = serde_json::Value::String(gov.keys[member].to_string());
        assert!(signers.contains(&key), "{out}");
    }
    let (ok, out, _) = rewards(&[
        "governance",
        "show",
        "--epoch",
        &(now_epoch + 2).to_string(),
    ]);
    assert!(ok && out.contains("witness_bps = 7000"), "{out}");
    let (ok, out, _) = rewards(&["governance", "show"]);
    assert!(
        ok && out.contains("version = 1") && out.contains("witness_bps = 6400"),
        "{out}"
    );
}

/// The shipped genesis file is the built-in genesis; the example proposal is a valid next
/// version that changes what it says it changes.
#[test]
fn shipped_parameter_files() {
    let genesis = Proposal::parse(
        include_str!("../pkg/parameters-genesis.toml").to_string(),
        Path::new("parameters-genesis.toml"),
    )
    .expect("genesis file");
    assert_eq!(genesis.set, ParameterSet::default());
    assert_eq!(genesis.set.hash(), ParameterSet::default().hash());
    let example = Proposal::parse(
        include_str!("../pkg/proposal-example.toml").to_string(),
        Path::new("proposal-example.toml"),
    )
    .expect("example proposal");
    rewards::governance::rules::check_values(&example.set).expect("valid values");
    let changed = ParameterSet {
        version: 2,
        effective_epoch: example.set.effective_epoch,
        split: example.set.split.clone(),
        hex_boosts: example.set.hex_boosts.clone(),
        verifier: example.set.verifier.clone(),
        ..ParameterSet::default()
    };
    assert_eq!(example.set, changed, "only the documented values differ");
    assert_eq!(example.set.hex_boosts.len(), 1);
    assert_eq!(
        example.set.verifier.get("max_witnesses_per_poc"),
        Some(&toml::Value::Integer(10))
    );
}
