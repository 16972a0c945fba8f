//! Verdict storage on both databases (migration 0009): the hotspot state restored from a
//! checkpoint plus the verdicts stored after it, reports without a verdict found by their
//! verdict's key, the verifier's progress, and batches committing in the order they were
//! verified.

use oracle::store::{
    BatchProgress, Checkpoint, CommitOrder, NewReport, PocRow, ReportKind, Store, StoreError,
};
use oracle::verifier::params::Checks;
use oracle::verifier::poc::{PocVerdict, WitnessVerdict};
use oracle::verifier::reason::{Invalid, Side};
use oracle::verifier::state::{self, BeaconEffects, StateBook};
use schemas::PublicKey;

const START_MS: u64 = 1_767_225_600_000;

fn key(n: u8) -> PublicKey {
    PublicKey::from_bytes([n; 32])
}

/// Proof of coverage `i`: beaconer `i % 6`, three witnesses among the others, receive times
/// increasing; every fifth beacon fails its regular checks, every third witness too.
fn poc(i: u64) -> PocVerdict {
    let beaconer = (i % 6) as u8 + 1;
    let received_ms = START_MS + i * 47_000;
    let passed_regular = i % 5 != 4;
    let witnesses: Vec<WitnessVerdict> = (1..=3u8)
        .map(|j| {
            let w = (beaconer + j - 1) % 6 + 1;
            let passed = passed_regular && !(i + u64::from(j)).is_multiple_of(3);
            WitnessVerdict {
                witness_id: [(i * 4 + u64::from(j)) as u8; 32],
                witness: key(w),
                received_ms: received_ms + 150 * u64::from(j),
                outcome: if passed {
                    Ok(())
                } else {
                    Err((Side::Witness, Invalid::SelfWitness))
                },
                passed_regular: passed,
                evidence: None,
                selected: passed,
                reward_units_e4: 0,
            }
        })
        .collect();
    let valid = witnesses.iter().filter(|w| w.outcome.is_ok()).count() as u32;
    PocVerdict {
        beacon_id: [(i * 4) as u8; 32],
        beaconer: key(beaconer),
        received_ms,
        epoch: received_ms / 86_400_000,
        outcome: if passed_regular {
            Ok(())
        } else {
            Err(Invalid::UnknownEntropy)
        },
        location: None,
        hex_scale_e4: 10_000,
        reward_units_e4: 0,
        witness_reports: 3,
        valid_witnesses: valid,
        selected_witnesses: valid,
        passed_regular,
        witnesses,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn checkpoint_and_later_verdicts_restore_the_state_of_every_stored_verdict() {
    let checks = Checks::default();
    for test in db::test_support::both().await.expect("databases") {
        let store = Store::new(test.db.clone());
        let mut verdicts: Vec<PocVerdict> = (0..40).map(poc).collect();
        // Hotspot 7 beacons before the first checkpoint and only witnesses between the first
        // and the second: the second holds its witness time alone, and must not erase the
        // beacon times the first stored.
        verdicts[0].beaconer = key(7);
        verdicts[20].witnesses[1].witness = key(7);
        assert!(verdicts[20].witnesses[1].passed_regular);
        let rows: Vec<PocRow> = verdicts
            .into_iter()
            .map(|v| {
                let effects = BeaconEffects::of(&v, &checks);
                (v, effects)
            })
            .collect();
        let mut expected = StateBook::new();
        let mut since_checkpoint = StateBook::new();
        for (n, batch) in rows.chunks(5).enumerate() {
            for (verdict, _) in batch {
                state::apply(&mut expected, verdict, &checks);
                state::apply(&mut since_checkpoint, verdict, &checks);
            }
            // Batches 3 and 6 carry a checkpoint of what changed since the last one (only the
            // changes: the stored fields it leaves unset must survive).
            let checkpoint = (n == 2 || n == 5).then(|| {
                let mut states: Vec<_> =
                    std::mem::take(&mut since_checkpoint).into_iter().collect();
                states.sort_unstable_by_key(|(k, _)| *k);
                Checkpoint {
                    states,
                    replay_from_ms: rows
                        .get((n + 1) * 5)
                        .map_or(u64::MAX >> 1, |(v, _)| v.received_ms),
                }
            });
            let progress = BatchProgress {
                verified_before_ms: batch[batch.len() - 1].0.received_ms,
                checkpoint,
            };
            let inserted = store.save_pocs(batch, &progress).await.expect("save");
            assert_eq!(inserted.pocs, 5, "{}", test.name);
            assert_eq!(inserted.witnesses, 15, "{}", test.name);
        }
        let mut expected: Vec<_> = expected.into_iter().collect();
        expected.sort_unstable_by_key(|(k, _)| *k);
        let restored = store.hotspot_states().await.expect("states");
        assert_eq!(restored, expected, "{}", test.name);
        let progress = store.progress().await.expect("progress");
        assert_eq!(
            progress.state_replay_from_ms, rows[30].0.received_ms,
            "{}",
            test.name
        );
        // Storing a batch again inserts nothing and changes no state.
        let again = store
            .save_pocs(&rows[..5], &BatchProgress::default())
            .await
            .expect("save again");
        assert_eq!(again.pocs + again.witnesses, 0, "{}", test.name);
        assert_eq!(
            store.hotspot_states().await.expect("states"),
            expected,
            "{}",
            test.name
        );
    }
}

fn report(kind: ReportKind, id: [u8; 32], hotspot: PublicKey, received_ms: u64) -> NewReport {
    NewReport {
        kind,
        id,
        hotspot_key: hotspot,
        data: vec![7; 51],
        received_ms,
        message: vec![1, 2, 3],
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_report_is_unverified_until_its_verdict_is_stored_and_progress_only_moves_on() {
    for test in db::test_support::both().await.expect("databases") {
        let store = Store::new(test.db.clone());
        let pocs: Vec<PocVerdict> = (0..6).map(poc).collect();
        let mut reports = Vec::new();
        for v in &pocs {
            reports.push(report(
                ReportKind::Beacon,
                v.beacon_id,
                v.beaconer,
                v.received_ms,
            ));
            for w in &v.witnesses {
                reports.push(report(
                    ReportKind::Witness,
                    w.witness_id,
                    w.witness,
                    w.received_ms,
                ));
            }
        }
        store.insert_reports(&reports).await.expect("reports");
        // Verdicts for the first four proofs of coverage only.
        let rows: Vec<PocRow> = pocs[..4]
            .iter()
            .map(|v| (v.clone(), BeaconEffects::default()))
            .collect();
        let progress = BatchProgress {
            verified_before_ms: pocs[4].received_ms,
            checkpoint: None,
        };
        store.save_pocs(&rows, &progress).await.expect("save");
        let beacons = store
            .unverified_between(ReportKind::Beacon, 0, u64::MAX >> 1)
            .await
            .expect("beacons");
        let ids: Vec<[u8; 32]> = beacons.iter().map(|r| r.id).collect();
        assert_eq!(ids, [pocs[4].beacon_id, pocs[5].beacon_id], "{}", test.name);
        let witnesses = store
            .unverified(ReportKind::Witness)
            .await
            .expect("witnesses");
        assert_eq!(witnesses.len(), 6, "{}", test.name);
        assert!(
            witnesses
                .iter()
                .all(|w| w.received_ms > pocs[4].received_ms),
            "{}",
            test.name
        );
        assert_eq!(
            store.next_unverified_ms(0).await.expect("next"),
            Some(pocs[4].received_ms),
            "{}",
            test.name
        );
        assert_eq!(
            store
                .next_unverified_ms(pocs[5].received_ms + 1)
                .await
                .expect("next"),
            Some(pocs[5].witnesses[0].received_ms),
            "{}",
            test.name
        );
        // verified_before_ms never goes back.
        store.save_verified_before(5).await.expect("progress");
        let progress = store.progress().await.expect("progress");
        assert_eq!(
            progress.verified_before_ms, pocs[4].received_ms,
            "{}",
            test.name
        );
        store
            .save_verified_before(pocs[5].received_ms)
            .await
            .expect("progress");
        let progress = store.progress().await.expect("progress");
        assert_eq!(
            progress.verified_before_ms, pocs[5].received_ms,
            "{}",
            test.name
        );
    }
}

fn rows(range: std::ops::Range<u64>) -> Vec<PocRow> {
    range.map(|i| (poc(i), BeaconEffects::default())).collect()
}

fn stored_until(rows: &[PocRow]) -> BatchProgress {
    BatchProgress {
        verified_before_ms: rows[rows.len() - 1].0.received_ms + 1,
        checkpoint: None,
    }
}

async fn stored_pocs(store: &Store) -> i64 {
    sqlx::query_scalar("SELECT COUNT(*) FROM pocs")
        .fetch_one(store.db().pool())
        .await
        .expect("count")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batches_commit_in_their_turn_and_not_after_a_batch_that_failed() {
    for test in db::test_support::both().await.expect("databases") {
        let store = Store::new(test.db.clone());
        let (first, second, third) = (rows(0..4), rows(4..8), rows(8..12));
        let mut order = CommitOrder::default();
        let mut first_turn = order.next_turn();
        let mut second_turn = order.next_turn();
        // The second batch is handed over first: it must wait for the first to commit.
        let later = {
            let (store, second) = (store.clone(), second.clone());
            tokio::spawn(async move {
                let inserted = store
                    .save_pocs_in_turn(&second, &stored_until(&second), &mut second_turn)
                    .await;
                if inserted.is_ok() {
                    second_turn.committed();
                }
                inserted
            })
        };
        let mut later = std::pin::pin!(later);
        let waited =
            tokio::time::timeout(std::time::Duration::from_millis(300), later.as_mut()).await;
        assert!(waited.is_err(), "{}: committed out of turn", test.name);
        assert_eq!(stored_pocs(&store).await, 0, "{}", test.name);
        let inserted = store
            .save_pocs_in_turn(&first, &stored_until(&first), &mut first_turn)
            .await
            .expect("first batch");
        assert_eq!(inserted.pocs, 4, "{}", test.name);
        first_turn.committed();
        let inserted = later.await.expect("task").expect("second batch");
        assert_eq!(inserted.pocs, 4, "{}", test.name);
        let progress = store.progress().await.expect("progress");
        assert_eq!(
            progress.verified_before_ms,
            stored_until(&second).verified_before_ms,
            "{}",
            test.name
        );
        // A batch whose turn comes after one that never committed is not stored, and the
        // progress stays where the stored batches left it.
        let failed = order.next_turn();
        let mut after_failed = order.next_turn();
        drop(failed);
        let refused = store
            .save_pocs_in_turn(&third, &stored_until(&third), &mut after_failed)
            .await;
        assert!(
            matches!(refused, Err(StoreError::EarlierBatch)),
            "{}: {refused:?}",
            test.name
        );
        assert_eq!(stored_pocs(&store).await, 8, "{}", test.name);
        assert_eq!(
            store.progress().await.expect("progress"),
            progress,
            "{}",
            test.name
        );
    }
}
