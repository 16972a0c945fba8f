//! Crash at every step of minting, restart from the persisted ledger (SQLite) and the persisted
//! embedded chain, and end with on-chain balances exactly equal to the manifest: nothing minted
//! twice, nothing missing.

mod mint_support;

use mint_support::{
    Recorder, TestClock, Token, apply_parameters, approve_two, assert_paid_exactly, manifest, mint,
    parameters,
};
use rewards::chain::{Chain, LiteSvmChain};
use rewards::mint::ledger::{self, BatchState, Outcome};
use rewards::mint::{MintError, Step};
use schemas::proto::RewardManifest;

/// Owners per manifest: enough for three transactions with two multisig signers.
const OWNERS: usize = 20;
const EPOCH: u64 = 20_461; // 2026-01-08, emitting under the genesis parameters

/// How the process comes back after a crash.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Restart {
    /// A new process: the chain is reopened from its state file, so every blockhash signed
    /// before the crash has expired (transactions are signed again).
    NewProcess,
    /// The chain lives on with the same blockhash (like an RPC cluster a few seconds later):
    /// recorded transactions are still valid and are sent again byte for byte.
    SameBlockhash,
}

struct Run {
    token: Token,
    db: db::test_support::TestDb,
    manifest: RewardManifest,
    clock: TestClock,
}

impl Run {
    async fn new() -> Self {
        let token = Token::create();
        let db = db::test_support::sqlite().await.expect("sqlite");
        let manifest = manifest(EPOCH, OWNERS, 1_000_000);
        apply_parameters(db.db.pool(), &parameters(100_000_000_000)).await;
        approve_two(db.db.pool(), &token, &manifest).await;
        Self {
            token,
            db,
            manifest,
            clock: TestClock::at_ms(1_800_000_000_000),
        }
    }

    async fn mint(
        &self,
        chain: &mut LiteSvmChain,
        hook: &Recorder,
    ) -> Result<rewards::mint::MintReport, MintError> {
        mint(
            self.db.db.pool(),
            chain,
            &self.token,
            &[0, 2],
            &self.clock,
            hook,
            &self.manifest,
        )
        .await
    }

    /// A restarted process: a fresh database pool, and the chain per `restart`.
    async fn restart(&mut self, chain: LiteSvmChain, restart: Restart) -> LiteSvmChain {
        self.db.db.close().await;
        self.db.db = db::Db::connect(&self.db.url).await.expect("reconnect");
        match restart {
            Restart::SameBlockhash => chain,
            Restart::NewProcess => {
                drop(chain);
                self.token.open()
            }
        }
    }

    async fn assert_complete(&self, chain: &mut LiteSvmChain) {
        let total = self.manifest.total_paid;
        assert_paid_exactly(chain, &self.token, &self.manifest, total);
        let pool = self.db.db.pool();
        let plan = ledger::plan(pool, EPOCH)
            .await
            .expect("plan")
            .expect("planned");
        assert!(plan.completed_ms.is_some());
        let batches = ledger::batches(pool, EPOCH).await.expect("batches");
        assert!(batches.iter().all(|b| b.state == BatchState::Confirmed));
        let attempts = ledger::attempts(pool, EPOCH).await.expect("attempts");
        let landed = attempts
            .iter()
            .filter(|a| a.outcome == Outcome::Landed)
            .count();
        assert_eq!(landed, batches.len(), "one landed transaction per batch");
        // Running again is a no-op that re-verifies against the chain.
        let again = self.mint(chain, &Recorder::default()).await.expect("again");
        assert!(again.already_complete);
        assert_eq!(
            chain
                .mint_supply(&self.token.addresses.mint)
                .expect("supply"),
            total
        );
    }
}

/// The steps of an uninterrupted run.
async fn clean_steps() -> Vec<Step> {
    let run = Run::new().await;
    let mut chain = run.token.open();
    let recorder = Recorder::default();
    let report = run.mint(&mut chain, &recorder).await.expect("clean run");
    assert!(
        report.batches.len() >= 3,
        "{} batches",
        report.batches.len()
    );
    run.assert_complete(&mut chain).await;
    recorder.steps()
}

async fn crash_once_then_resume(crash_at: usize, restart: Restart) -> Step {
    let mut run = Run::new().await;
    let mut chain = run.token.open();
    let recorder = Recorder::crash_at(crash_at);
    let err = run.mint(&mut chain, &recorder).await.expect_err("crashes");
    assert!(matches!(err, MintError::Crashed(_)), "{err:?}");
    let crashed_at = *recorder.steps().last().expect("a step");
    let mut chain = run.restart(chain, restart).await;
    run.mint(&mut chain, &Recorder::default())
        .await
        .unwrap_or_else(|e| panic!("resume after a crash at {crashed_at} ({restart:?}): {e}"));
    run.assert_complete(&mut chain).await;
    crashed_at
}

#[tokio::test]
async fn a_crash_at_any_step_then_a_restart_pays_the_manifest_exactly_once() {
    let steps = clean_steps().await;
    for restart in [Restart::NewProcess, Restart::SameBlockhash] {
        for (index, step) in steps.iter().enumerate() {
            let crashed = crash_once_then_resume(index, restart).await;
            assert_eq!(crashed, *step);
        }
    }
    let named = |f: fn(&Step) -> bool| steps.iter().any(f);
    assert!(named(|s| *s == Step::Planned));
    assert!(named(|s| matches!(s, Step::Signed { .. })));
    assert!(named(|s| matches!(s, Step::SendRecorded { .. })));
    assert!(named(|s| matches!(s, Step::Submitted { .. })));
    assert!(
        named(|s| matches!(s, Step::Confirmed { batch: 1 })),
        "mid-plan"
    );
    assert!(named(|s| *s == Step::Verified));
}

#[tokio::test]
async fn a_crash_at_any_step_of_a_resumed_run_is_survived_too() {
    // First crash right after batch 1 was signed and recorded; in a new process that attempt
    // has expired, so the resumed run proves it never landed and signs again. Crash that run at
    // each of its steps (including "expired, before re-signing"), restart again, finish.
    let first = {
        let run = Run::new().await;
        let mut chain = run.token.open();
        let recorder = Recorder::default();
        run.mint(&mut chain, &recorder).await.expect("clean");
        recorder
            .steps()
            .iter()
            .position(|s| *s == Step::Signed { batch: 1 })
            .expect("batch 1 signed")
    };
    let resumed_steps = {
        let mut run = Run::new().await;
        let mut chain = run.token.open();
        run.mint(&mut chain, &Recorder::crash_at(first))
            .await
            .expect_err("crash");
        let mut chain = run.restart(chain, Restart::NewProcess).await;
        let recorder = Recorder::default();
        run.mint(&mut chain, &recorder).await.expect("resume");
        run.assert_complete(&mut chain).await;
        recorder.steps()
    };
    assert!(
        resumed_steps.contains(&Step::Expired { batch: 1 }),
        "{resumed_steps:?}"
    );
    for (second, step) in resumed_steps.iter().enumerate() {
        let mut run = Run::new().await;
        let mut chain = run.token.open();
        run.mint(&mut chain, &Recorder::crash_at(first))
            .await
            .expect_err("crash 1");
        let mut chain = run.restart(chain, Restart::NewProcess).await;
        let recorder = Recorder::crash_at(second);
        run.mint(&mut chain, &recorder).await.expect_err("crash 2");
        assert_eq!(recorder.steps().last(), Some(step));
        let mut chain = run.restart(chain, Restart::NewProcess).await;
        run.mint(&mut chain, &Recorder::default())
            .await
            .unwrap_or_else(|e| panic!("after crashes at {first} and {step}: {e}"));
        run.assert_complete(&mut chain).await;
    }
}

#[tokio::test]
async fn a_sent_transaction_that_landed_before_the_crash_is_not_sent_again() {
    let mut run = Run::new().await;
    let mut chain = run.token.open();
    let steps = {
        let recorder = Recorder::default();
        let probe = Run::new().await;
        let mut probe_chain = probe.token.open();
        probe
            .mint(&mut probe_chain, &recorder)
            .await
            .expect("clean");
        recorder.steps()
    };
    let submitted = steps
        .iter()
        .position(|s| *s == Step::Submitted { batch: 0 })
        .expect("submitted");
    run.mint(&mut chain, &Recorder::crash_at(submitted))
        .await
        .expect_err("crash");
    let supply_at_crash = chain
        .mint_supply(&run.token.addresses.mint)
        .expect("supply");
    assert!(supply_at_crash > 0, "batch 0 landed before the crash");
    let mut chain = run.restart(chain, Restart::NewProcess).await;
    let recorder = Recorder::default();
    run.mint(&mut chain, &recorder).await.expect("resume");
    // Batch 0 is settled from the chain's status: confirmed without signing or sending again.
    let resumed = recorder.steps();
    assert_eq!(
        resumed.first(),
        Some(&Step::Confirmed { batch: 0 }),
        "{resumed:?}"
    );
    let attempts = ledger::attempts(run.db.db.pool(), EPOCH)
        .await
        .expect("attempts");
    assert_eq!(attempts.iter().filter(|a| a.batch == 0).count(), 1);
    run.assert_complete(&mut chain).await;
}

#[tokio::test]
async fn a_blockhash_expiring_mid_run_in_the_same_process_is_re_signed() {
    let run = Run::new().await;
    let mut chain = run.token.open();
    let steps = {
        let probe = Run::new().await;
        let mut probe_chain = probe.token.open();
        let recorder = Recorder::default();
        probe
            .mint(&mut probe_chain, &recorder)
            .await
            .expect("clean");
        recorder.steps()
    };
    let signed = steps
        .iter()
        .position(|s| *s == Step::Signed { batch: 2 })
        .expect("batch 2");
    run.mint(&mut chain, &Recorder::crash_at(signed))
        .await
        .expect_err("crash");
    chain.expire_blockhash().expect("expire");
    run.mint(&mut chain, &Recorder::default())
        .await
        .expect("resume");
    run.assert_complete(&mut chain).await;
    let attempts = ledger::attempts(run.db.db.pool(), EPOCH)
        .await
        .expect("attempts");
    let batch2: Vec<_> = attempts.iter().filter(|a| a.batch == 2).collect();
    assert_eq!(batch2.len(), 2);
    assert_eq!(batch2[0].outcome, Outcome::Expired);
    assert_eq!(batch2[1].outcome, Outcome::Landed);
}

#[tokio::test]
async fn a_stale_concurrent_run_cannot_revive_or_confirm_an_old_attempt() {
    let run = Run::new().await;
    let mut chain = run.token.open();
    let err = run
        .mint(&mut chain, &Recorder::crash_at(1))
        .await
        .expect_err("crash after batch 0 was signed");
    let pool = run.db.db.pool();
    assert!(matches!(err, MintError::Crashed(_)), "{err:?}");
    let now = 1_800_000_000_000;
    // Run A proves attempt 1 dead and records attempt 2.
    ledger::resolve_dead(pool, EPOCH, 0, 1, Outcome::Expired, None, now)
        .await
        .expect("A closes attempt 1");
    let payer = rewards::chain::Keypair::new();
    let transaction = rewards::chain::SignedTransaction::new(
        &[rewards::chain::instructions::memo("attempt 2")],
        &payer,
        &[],
        chain.latest_blockhash().expect("blockhash"),
    )
    .expect("sign");
    let attempt = ledger::Attempt {
        batch: 0,
        attempt: 2,
        transaction,
        last_valid_block_height: 0,
        signed_ms: now,
        sent_ms: None,
        outcome: Outcome::Pending,
        detail: None,
    };
    ledger::record_attempt(pool, EPOCH, &attempt)
        .await
        .expect("A records attempt 2");
    // Run B, still looking at attempt 1, can neither close it again (which would hand the batch
    // back for a third, concurrent attempt) nor confirm it.
    let err = ledger::resolve_dead(pool, EPOCH, 0, 1, Outcome::Expired, None, now)
        .await
        .expect_err("stale");
    assert!(matches!(err, MintError::Ledger { .. }), "{err:?}");
    let err = ledger::confirm(pool, EPOCH, 0, 1, now)
        .await
        .expect_err("stale");
    assert!(err.to_string().contains("another `rewards mint`"), "{err}");
    let batches = ledger::batches(pool, EPOCH).await.expect("batches");
    assert_eq!(
        (batches[0].state, batches[0].attempt),
        (BatchState::Signed, 2)
    );
}
