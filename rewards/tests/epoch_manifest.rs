//! Reward manifests end to end over a seeded oracle database: determinism across backends,
//! refusal of unfinished epochs, never overwriting, replay in a fresh process (and its loud
//! failure after tampering), signing and importing approvals, what-if with a boosted hex, and
//! parameter changes at their effective epoch only.

mod epoch_support;

use epoch_support::{DAY_MS, EPOCH, Witnessed, apply, genesis, seed};
use rewards::approvals::{self, ApprovalError, ApprovalFile};
use rewards::epoch::{self, EpochError};
use schemas::parameters::HexBoost;
use std::process::{Command, Output};

const NOW_MS: u64 = (EPOCH + 30) * DAY_MS;

fn rewards(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_rewards"))
        .args(args)
        .env("RUST_LOG", "warn")
        .env_remove("REWARDS_DATABASE_URL")
        .output()
        .expect("spawn rewards")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[tokio::test]
async fn sqlite_and_postgres_give_the_same_manifest_hash() {
    let mut hashes = Vec::new();
    for test in db::test_support::both().await.expect("databases") {
        let pool = test.db.pool();
        let net = seed(pool, EPOCH).await;
        let (computed, new) = epoch::run_epoch(&test.db, EPOCH, NOW_MS)
            .await
            .expect("run");
        assert!(new, "{}: first run stores", test.name);
        let m = &computed.manifest;
        assert_eq!(m.epoch, EPOCH);
        assert_eq!(
            (m.start_ms, m.end_ms),
            (EPOCH * DAY_MS, (EPOCH + 1) * DAY_MS)
        );
        assert_eq!(
            m.emission, 100_000_000_000,
            "the test genesis emission, not halved yet"
        );
        assert_eq!(m.total_paid + m.unallocated, m.emission);
        // 16 beacons + 48 valid selected witnesses; the invalid and unselected are not counted.
        assert_eq!(m.reports, 64, "{}", test.name);
        assert_eq!(m.hotspots.len(), net.len());
        // Owners 100..104: hotspots i and i + 5 share an owner (three owners with two hotspots).
        assert_eq!(m.owners.len(), 5);
        for owner in &m.owners {
            let sum: u64 = m
                .hotspots
                .iter()
                .filter(|h| h.owner_key == owner.owner_key)
                .map(|h| h.beacon_amount + h.witness_amount)
                .sum();
            assert_eq!(owner.amount, sum, "owner = sum of its hotspots");
        }
        // The sparse hotspot (full scale) beats a dense one (scale 0.25) at beaconing.
        let beacon_of = |i: usize| {
            let key = net[i].key.public().to_vec();
            m.hotspots
                .iter()
                .find(|h| h.hotspot_key == key)
                .map(|h| h.beacon_amount)
                .expect("paid")
        };
        // (4 x the shares: equal up to the rounding of each floor.)
        assert!(beacon_of(7).abs_diff(4 * beacon_of(0)) < 4);
        // Running again is a no-op with the same hash.
        let (again, new) = epoch::run_epoch(&test.db, EPOCH, NOW_MS)
            .await
            .expect("again");
        assert!(!new);
        assert_eq!(again.hash, computed.hash);
        hashes.push((test.name, computed.hash));
    }
    assert_eq!(
        hashes[0].1, hashes[1].1,
        "SQLite and PostgreSQL: {hashes:?}"
    );
}

#[tokio::test]
async fn unfinished_epochs_are_refused() {
    for test in db::test_support::both().await.expect("databases") {
        let pool = test.db.pool();
        let net = seed(pool, EPOCH).await;
        let err = epoch::compute_epoch_at(&test.db, EPOCH, (EPOCH + 1) * DAY_MS - 1)
            .await
            .expect_err("still running");
        assert!(matches!(err, EpochError::NotEnded { .. }), "{err}");
        // A beacon report without a verdict yet.
        sqlx::query("INSERT INTO beacon_reports (id, hotspot_key, data, received_ms, message) VALUES ($1, $2, $3, $4, $5)")
            .bind(vec![0xAB; 32])
            .bind(net[0].key.public().to_vec())
            .bind(vec![1u8; 51])
            .bind((EPOCH * DAY_MS + 5) as i64)
            .bind(vec![0u8; 10])
            .execute(pool)
            .await
            .expect("insert");
        let err = epoch::compute_epoch_at(&test.db, EPOCH, NOW_MS)
            .await
            .expect_err("pending");
        assert_eq!(
            err.to_string(),
            format!("epoch {EPOCH} not fully verified: 1 reports pending"),
            "{}",
            test.name
        );
        // The next epoch has nothing pending: an empty epoch, wholly unallocated.
        let (empty, _) = epoch::run_epoch(&test.db, EPOCH + 1, NOW_MS)
            .await
            .expect("empty");
        assert_eq!(empty.manifest.total_paid, 0);
        assert_eq!(empty.manifest.unallocated, empty.manifest.emission);
    }
}

#[tokio::test]
async fn a_stored_manifest_is_never_overwritten() {
    for test in db::test_support::both().await.expect("databases") {
        let pool = test.db.pool();
        seed(pool, EPOCH).await;
        let (first, _) = epoch::run_epoch(&test.db, EPOCH, NOW_MS)
            .await
            .expect("run");
        sqlx::query("UPDATE pocs SET hex_scale_e4 = 10000 WHERE hex_scale_e4 = 2500")
            .execute(pool)
            .await
            .expect("tamper");
        let err = epoch::run_epoch(&test.db, EPOCH, NOW_MS)
            .await
            .expect_err("conflict");
        assert!(matches!(err, EpochError::Conflict { .. }), "{err}");
        let stored = epoch::stored_manifest(pool, EPOCH)
            .await
            .expect("read")
            .expect("stored");
        assert_eq!(
            stored.hash, first.hash,
            "{}: the stored manifest is kept",
            test.name
        );
    }
}

#[tokio::test]
async fn replay_in_a_fresh_process_passes_then_fails_after_tampering() {
    let test = db::test_support::sqlite().await.expect("sqlite");
    seed(test.db.pool(), EPOCH).await;
    let epoch_arg = EPOCH.to_string();
    let url = test.url.as_str();
    let run = rewards(&["epoch", "run", "--epoch", &epoch_arg, "--database-url", url]);
    assert!(run.status.success(), "epoch run: {}", text(&run.stderr));
    let stdout = text(&run.stdout);
    assert!(
        stdout.contains("2024-10-04T00:00:00Z .. 2024-10-05T00:00:00Z"),
        "{stdout}"
    );
    assert!(stdout.contains("unallocated"), "{stdout}");
    let ok = rewards(&["replay", "--epoch", &epoch_arg, "--database-url", url]);
    assert!(ok.status.success(), "replay: {}", text(&ok.stderr));
    assert!(text(&ok.stdout).contains("replay matches the stored manifest"));

    // One stored witness verdict's units change.
    let done = sqlx::query(
        "UPDATE witness_verdicts SET reward_units_e4 = 20000 WHERE witness_id = \
         (SELECT MIN(witness_id) FROM witness_verdicts WHERE valid = 1 AND selected = 1)",
    )
    .execute(test.db.pool())
    .await
    .expect("tamper");
    assert_eq!(done.rows_affected(), 1);
    let bad = rewards(&["replay", "--epoch", &epoch_arg, "--database-url", url]);
    assert!(
        !bad.status.success(),
        "a tampered verdict must fail the replay"
    );
    let stderr = text(&bad.stderr);
    assert!(stderr.contains("REPLAY MISMATCH"), "{stderr}");
    assert!(stderr.contains("reports_digest: stored"), "{stderr}");
}

#[tokio::test]
async fn approvals_are_signed_exchanged_verified_and_listed() {
    let dir = tempfile::tempdir().expect("dir");
    let (a, b) = (
        db::test_support::sqlite().await.expect("a"),
        db::test_support::sqlite().await.expect("b"),
    );
    seed(a.db.pool(), EPOCH).await;
    seed(b.db.pool(), EPOCH).await;
    let epoch_arg = EPOCH.to_string();
    let key_a = dir.path().join("operator-a.json");
    let key_b = dir.path().join("operator-b.json");
    let (op_a, op_b) = (
        schemas::Keypair::from_seed([41; 32]),
        schemas::Keypair::from_seed([42; 32]),
    );
    op_a.write_new_file(&key_a).expect("key a");
    op_b.write_new_file(&key_b).expect("key b");
    let file_a = dir.path().join("a.approval.json");
    // Oracle A signs (computing and storing the manifest on the way) and exports.
    let out = rewards(&[
        "sign",
        "--epoch",
        &epoch_arg,
        "--key",
        key_a.to_str().expect("path"),
        "--out",
        file_a.to_str().expect("path"),
        "--database-url",
        &a.url,
    ]);
    assert!(out.status.success(), "sign a: {}", text(&out.stderr));
    // Oracle B signs its own recomputation and imports A's approval.
    let out = rewards(&[
        "sign",
        "--epoch",
        &epoch_arg,
        "--key",
        key_b.to_str().expect("path"),
        "--database-url",
        &b.url,
    ]);
    assert!(out.status.success(), "sign b: {}", text(&out.stderr));
    let out = rewards(&[
        "approvals",
        "import",
        file_a.to_str().expect("path"),
        "--database-url",
        &b.url,
    ]);
    assert!(out.status.success(), "import: {}", text(&out.stderr));
    assert!(text(&out.stdout).contains("verified and stored"));

    let stored = epoch::stored_manifest(b.db.pool(), EPOCH)
        .await
        .expect("read")
        .expect("stored");
    let list = approvals::approvals(b.db.pool(), EPOCH, &stored.hash)
        .await
        .expect("approvals");
    let mut signers: Vec<Vec<u8>> = list.iter().map(|a| a.signer_key.clone()).collect();
    signers.sort();
    let mut expected = vec![op_a.public().to_vec(), op_b.public().to_vec()];
    expected.sort();
    assert_eq!(signers, expected, "both operators approved the same hash");

    let out = rewards(&[
        "approvals",
        "list",
        "--epoch",
        &epoch_arg,
        "--json",
        "--database-url",
        &b.url,
    ]);
    assert!(out.status.success(), "list: {}", text(&out.stderr));
    let listed: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(listed["approvals"].as_array().map(Vec::len), Some(2));
    assert!(
        listed["approvals"]
            .as_array()
            .expect("array")
            .iter()
            .all(|a| a["matches_stored"] == true)
    );

    // A forged approval (signature of another epoch's message) is refused.
    let mut forged =
        ApprovalFile::parse(&std::fs::read_to_string(&file_a).expect("read")).expect("parse");
    forged.signature[0] ^= 1;
    let err = approvals::store(b.db.pool(), &forged, NOW_MS)
        .await
        .expect_err("forged");
    assert!(matches!(err, ApprovalError::Signature { .. }), "{err}");
    // A genuine approval of another hash is refused as a mismatch.
    let other = approvals::sign(EPOCH, [7; 32], &op_a);
    let err = approvals::store(b.db.pool(), &other, NOW_MS)
        .await
        .expect_err("other hash");
    assert!(matches!(err, ApprovalError::HashMismatch { .. }), "{err}");
    // Without a stored manifest there is nothing to approve.
    let err = approvals::store(
        b.db.pool(),
        &approvals::sign(EPOCH + 5, [7; 32], &op_a),
        NOW_MS,
    )
    .await
    .expect_err("no manifest");
    assert!(matches!(err, ApprovalError::NoManifest { .. }), "{err}");
    // An edited stored approval is an error, never silently counted.
    sqlx::query("UPDATE manifest_approvals SET signature = $1 WHERE signer_key = $2")
        .bind(vec![0u8; 64])
        .bind(op_b.public().to_vec())
        .execute(b.db.pool())
        .await
        .expect("edit");
    assert!(
        approvals::approvals(b.db.pool(), EPOCH, &stored.hash)
            .await
            .is_err()
    );
}

#[tokio::test]
async fn what_if_shows_the_gain_of_a_boosted_hex() {
    let test = db::test_support::sqlite().await.expect("sqlite");
    let pool = test.db.pool();
    let net = seed(pool, EPOCH).await;
    let sparse = &net[7];
    let hex = rewards::epoch::what_if::res8(sparse.location);
    let mut proposed = genesis();
    proposed.version = 2;
    proposed.effective_epoch = EPOCH + 40;
    proposed.hex_boosts.push(HexBoost {
        cell: hex.clone(),
        multiplier_e4: 30_000,
        start_epoch: 0,
        end_epoch: EPOCH + 100,
    });
    let report = epoch::what_if::what_if(&test.db, &proposed, EPOCH..=EPOCH, NOW_MS)
        .await
        .expect("what-if");
    let sparse_key = sparse.key.public().to_string();
    let top = &report.hotspots[0];
    assert_eq!(top.hotspot, sparse_key, "the boosted hotspot gains most");
    assert!(top.delta > 0 && top.proposed > top.current);
    assert_eq!(report.hexes[0].hex, hex);
    assert!(report.hexes[0].delta > 0);
    assert!(
        report.hotspots[1..].iter().all(|h| h.delta <= 0),
        "everyone else shares the cost"
    );
    // The pools are the same; only dust moves between paid and unallocated.
    assert_eq!(report.current.emission, report.proposed.emission);
    assert!(report.current.paid.abs_diff(report.proposed.paid) < 16);

    // The same through the binary, as JSON.
    let path = test.url.clone();
    let dir = tempfile::tempdir().expect("dir");
    let file = dir.path().join("proposal.toml");
    std::fs::write(&file, proposed.to_toml()).expect("write");
    let range = format!("{EPOCH}..{}", EPOCH + 1);
    let out = rewards(&[
        "what-if",
        file.to_str().expect("path"),
        "--epochs",
        &range,
        "--json",
        "--database-url",
        &path,
    ]);
    assert!(out.status.success(), "what-if: {}", text(&out.stderr));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(json["hotspots"][0]["hotspot"], sparse_key);
    assert_eq!(json["hexes"][0]["hex"], hex);
    let out = rewards(&[
        "what-if",
        file.to_str().expect("path"),
        "--epochs",
        &range,
        "--database-url",
        &path,
    ]);
    assert!(out.status.success());
    assert!(text(&out.stdout).contains(&hex), "{}", text(&out.stdout));
}

#[tokio::test]
async fn a_parameter_change_applies_from_its_epoch_only() {
    for test in db::test_support::both().await.expect("databases") {
        let pool = test.db.pool();
        let net = seed(pool, EPOCH).await;
        epoch_support::day(pool, &net, EPOCH + 1).await;
        let mut next = genesis();
        next.version = 2;
        next.effective_epoch = EPOCH + 1;
        next.split.beacon_bps = 3_000;
        apply(pool, &next).await;
        let (before, _) = epoch::run_epoch(&test.db, EPOCH, NOW_MS)
            .await
            .expect("before");
        let (after, _) = epoch::run_epoch(&test.db, EPOCH + 1, NOW_MS)
            .await
            .expect("after");
        assert_eq!(before.manifest.parameters_version, 1, "{}", test.name);
        assert_eq!(before.manifest.beacon_pool, 16_000_000_000);
        assert_eq!(after.manifest.parameters_version, 2);
        assert_eq!(after.manifest.parameters_hash, next.hash().to_vec());
        assert_eq!(after.manifest.beacon_pool, 30_000_000_000);
        // Same activity, different parameters: the reports digests differ only by epoch.
        assert_ne!(
            before.manifest.reports_digest,
            after.manifest.reports_digest
        );
        // Replaying the old epoch still uses its own set.
        let replayed = epoch::compute_epoch_at(&test.db, EPOCH, NOW_MS)
            .await
            .expect("replay");
        assert_eq!(replayed.hash, before.hash);
    }
}

#[tokio::test]
async fn owners_and_locations_come_from_the_assertion_in_force_at_the_epoch_end() {
    let test = db::test_support::sqlite().await.expect("sqlite");
    let pool = test.db.pool();
    let net = seed(pool, EPOCH).await;
    let (first, _) = epoch::run_epoch(&test.db, EPOCH, NOW_MS)
        .await
        .expect("run");
    // The hotspot moves after the epoch: the past epoch does not change.
    let moved = epoch_support::cell(37.9, -122.2);
    epoch_support::assert_location(pool, &net[7], moved, (EPOCH + 2) * DAY_MS).await;
    let again = epoch::compute_epoch_at(&test.db, EPOCH, NOW_MS)
        .await
        .expect("again");
    assert_eq!(again.hash, first.hash);
}

/// The reports digest as the `rewards::epoch` module documents it, computed here with one plain
/// query per table (no chunks, no minute column): the epoch loader reads minute ranges in
/// parallel chunks and must give the same bytes.
async fn documented_digest(pool: &sqlx::AnyPool, epoch: u64) -> [u8; 32] {
    use prost::Message;
    use sha2::{Digest, Sha256};
    use sqlx::Row;
    let (start, end) = (epoch * DAY_MS, (epoch + 1) * DAY_MS);
    let mut digest = Sha256::new();
    digest.update(b"coverage-proof/v1/reports-digest");
    digest.update([0]);
    for value in [epoch, start, end] {
        digest.update(value.to_be_bytes());
    }
    let int = |row: &sqlx::any::AnyRow, i: usize| row.get::<i64, _>(i) as u64;
    let mut paid = std::collections::BTreeSet::new();
    let beacons = sqlx::query(
        "SELECT beacon_id, beaconer_key, received_ms, location, hex_scale_e4, reward_units_e4 FROM pocs \
         WHERE valid = 1 AND received_ms >= $1 AND received_ms < $2 \
         ORDER BY received_ms / 60000, beaconer_key, beacon_id",
    )
    .bind(start as i64)
    .bind(end as i64)
    .fetch_all(pool)
    .await
    .expect("beacons");
    for row in &beacons {
        let beaconer: Vec<u8> = row.get(1);
        let location: Option<i64> = row.get(3);
        digest.update([1]);
        digest.update(row.get::<Vec<u8>, _>(0));
        digest.update(&beaconer);
        for value in [
            int(row, 2),
            location.unwrap_or(0) as u64,
            int(row, 4),
            int(row, 5),
        ] {
            digest.update(value.to_be_bytes());
        }
        paid.insert(beaconer);
    }
    let witnesses = sqlx::query(
        "SELECT witness_id, beacon_id, witness_key, hex_scale_e4, reward_units_e4 FROM witness_verdicts \
         WHERE epoch = $1 AND valid = 1 AND selected = 1 AND beacon_id IS NOT NULL \
         ORDER BY received_ms / 60000, witness_key, witness_id",
    )
    .bind(epoch as i64)
    .fetch_all(pool)
    .await
    .expect("witnesses");
    for row in &witnesses {
        let witness: Vec<u8> = row.get(2);
        digest.update([2]);
        digest.update(row.get::<Vec<u8>, _>(0));
        digest.update(row.get::<Vec<u8>, _>(1));
        digest.update(&witness);
        for value in [int(row, 3), int(row, 4)] {
            digest.update(value.to_be_bytes());
        }
        paid.insert(witness);
    }
    // Every hotspot of the test network has one assertion, received before the epoch.
    let mut assertions = std::collections::BTreeMap::new();
    for row in sqlx::query("SELECT message FROM assertions")
        .fetch_all(pool)
        .await
        .expect("assertions")
    {
        let a = schemas::proto::LocationAssertion::decode(row.get::<Vec<u8>, _>(0).as_slice())
            .expect("assertion");
        assertions.insert(a.hotspot_key.clone(), a);
    }
    for hotspot in &paid {
        let a = &assertions[hotspot];
        digest.update([3]);
        digest.update(hotspot);
        digest.update(&a.owner_key);
        digest.update(a.location.to_be_bytes());
        digest.update(a.timestamp_ms.to_be_bytes());
    }
    assert!(
        beacons.len() > 16 && witnesses.len() > 40,
        "the seeded day and the edge cases are all read: {} beacons, {} witnesses",
        beacons.len(),
        witnesses.len()
    );
    digest.finalize().into()
}

#[tokio::test]
async fn the_reports_digest_is_the_documented_hash_of_the_rows_in_order() {
    let mut digests = Vec::new();
    for test in db::test_support::both().await.expect("databases") {
        let pool = test.db.pool();
        let net = seed(pool, EPOCH).await;
        // Proofs of coverage at the edges of the epoch and of the loader's chunks of minutes
        // (10 minutes each, so every hour starts one): the first and last millisecond of the
        // epoch, the last millisecond of a chunk (its witnesses fall into the next chunk), the
        // first minute of the next.
        let start = EPOCH * DAY_MS;
        let edges = [
            start,
            start + 3_600_000 - 1,
            start + 3_600_000 + 7,
            start + 5 * 3_600_000 - 1,
            start + DAY_MS - 1,
        ];
        for (i, at) in edges.into_iter().enumerate() {
            let witnesses: Vec<Witnessed> = (1..=2)
                .map(|k| Witnessed {
                    hotspot: &net[(i + k) % net.len()],
                    valid: true,
                    selected: true,
                })
                .collect();
            epoch_support::poc(pool, &net[i], at, 10_000, &witnesses).await;
        }
        let loaded = epoch::load_epoch(&test.db, EPOCH, NOW_MS)
            .await
            .expect("load");
        let expected = documented_digest(pool, EPOCH).await;
        assert_eq!(loaded.reports_digest, expected, "{}", test.name);
        digests.push(expected);
    }
    assert_eq!(digests[0], digests[1], "sqlite and postgres");
}
