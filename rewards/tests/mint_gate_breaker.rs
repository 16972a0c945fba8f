//! The approval gate and the circuit breaker end to end (stored approvals, the parameter set in
//! force, the mint ledger) on SQLite and PostgreSQL, minting on the embedded chain.

mod mint_support;

use mint_support::{
    Recorder, TestClock, Token, apply_parameters, approve_two, assert_paid_exactly, manifest, mint,
    parameters, store_approval, store_manifest,
};
use rewards::chain::Chain;
use rewards::mint::{MintError, load_manifest, manifest_hash};
use std::time::Duration;

const HOUR: Duration = Duration::from_secs(3600);

#[tokio::test]
async fn a_manifest_one_oracle_signed_is_never_minted() {
    for db in db::test_support::both().await.expect("databases") {
        let pool = db.db.pool();
        apply_parameters(pool, &parameters(1_000_000_000)).await;
        let token = Token::create();
        let mut chain = token.open();
        let clock = TestClock::at_ms(1_800_000_000_000);
        let manifest = manifest(20_457, 5, 700);
        let hash = manifest_hash(&manifest);
        store_approval(pool, &token.operators[0].approve(20_457, hash)).await;
        // A second operator approved a different manifest of the same epoch: does not count.
        store_approval(pool, &token.operators[1].approve(20_457, [9; 32])).await;
        let err = mint(
            pool,
            &mut chain,
            &token,
            &[0, 1],
            &clock,
            &Recorder::default(),
            &manifest,
        )
        .await
        .expect_err("one approval of this hash");
        let MintError::NotEnoughApprovals {
            approvals: 1,
            required: 2,
            ..
        } = err
        else {
            panic!("{}: {err:?}", db.name);
        };
        let text = err.to_string();
        let expected = format!(
            "epoch 20457: 1 approval of manifest {}..; 2 required (operators: ",
            hex::encode(&hash[..4])
        );
        assert!(text.starts_with(&expected), "{text}");
        assert!(
            rewards::mint::ledger::plan(pool, 3)
                .await
                .expect("plan")
                .is_none()
        );
        assert_eq!(chain.mint_supply(&token.addresses.mint).expect("supply"), 0);

        // Operator 2 approves too, but operator 1 (who approved something else) may not sign.
        store_approval(pool, &token.operators[2].approve(20_457, hash)).await;
        let err = mint(
            pool,
            &mut chain,
            &token,
            &[0, 1],
            &clock,
            &Recorder::default(),
            &manifest,
        )
        .await
        .expect_err("operator 1 did not approve this hash");
        assert!(
            matches!(err, MintError::SignerNotApproved { .. }),
            "{err:?}"
        );
        let err = mint(
            pool,
            &mut chain,
            &token,
            &[2],
            &clock,
            &Recorder::default(),
            &manifest,
        )
        .await
        .expect_err("one signer");
        assert!(matches!(err, MintError::NotEnoughSigners { .. }), "{err:?}");

        let report = mint(
            pool,
            &mut chain,
            &token,
            &[2, 0],
            &clock,
            &Recorder::default(),
            &manifest,
        )
        .await
        .expect("two approvals, two approving signers");
        assert_eq!(report.total, manifest.total_paid);
        assert_paid_exactly(&chain, &token, &manifest, manifest.total_paid);
    }
}

#[tokio::test]
async fn the_circuit_breaker_refuses_beyond_the_window_limit_until_room_frees_up() {
    for db in db::test_support::both().await.expect("databases") {
        let pool = db.db.pool();
        // In force from epoch 0: 1,000,000 base units per epoch, at most 2 emissions per 24 h.
        let mut set = parameters(1_000_000);
        set.limits.mint_window = 24 * HOUR;
        set.limits.mint_window_emissions = 2;
        apply_parameters(pool, &set).await;

        let token = Token::create();
        let mut chain = token.open();
        let clock = TestClock::at_ms(1_800_000_000_000);
        let first = manifest(1, 3, 500_000); // 1,500,003
        let second = manifest(2, 2, 300_000); // 600,001: 2,100,004 > 2,000,000
        for m in [&first, &second] {
            approve_two(pool, &token, m).await;
        }
        mint(
            pool,
            &mut chain,
            &token,
            &[0, 2],
            &clock,
            &Recorder::default(),
            &first,
        )
        .await
        .expect("within the limit");
        clock.advance(20 * HOUR);
        let err = mint(
            pool,
            &mut chain,
            &token,
            &[0, 2],
            &clock,
            &Recorder::default(),
            &second,
        )
        .await
        .expect_err("over the limit");
        let MintError::CircuitBreaker {
            used,
            needed,
            limit,
            ..
        } = &err
        else {
            panic!("{}: {err:?}", db.name);
        };
        assert_eq!((*used, *needed, *limit), (1_500_003, 600_001, 2_000_000));
        let text = err.to_string();
        assert!(
            text.contains("room frees up at") && text.contains("in 4h"),
            "{text}"
        );
        assert!(
            rewards::mint::ledger::plan(pool, 2)
                .await
                .expect("plan")
                .is_none()
        );
        let supply = chain.mint_supply(&token.addresses.mint).expect("supply");
        assert_eq!(supply, first.total_paid, "nothing of epoch 2 minted");

        clock.advance(4 * HOUR + Duration::from_secs(1));
        mint(
            pool,
            &mut chain,
            &token,
            &[0, 2],
            &clock,
            &Recorder::default(),
            &second,
        )
        .await
        .expect("epoch 1 left the window");
        assert_eq!(
            chain.mint_supply(&token.addresses.mint).expect("supply"),
            first.total_paid + second.total_paid
        );
    }
}

#[tokio::test]
async fn the_stored_manifest_is_loaded_and_checked() {
    for db in db::test_support::both().await.expect("databases") {
        let pool = db.db.pool();
        assert!(load_manifest(pool, 4).await.expect("none").is_none());
        let m = manifest(4, 3, 10);
        store_manifest(pool, &m).await;
        assert_eq!(load_manifest(pool, 4).await.expect("load"), Some(m.clone()));
        sqlx::query("UPDATE reward_manifests SET manifest_hash = $1 WHERE epoch = 4")
            .bind(vec![0u8; 32])
            .execute(pool)
            .await
            .expect("tamper");
        let err = load_manifest(pool, 4).await.expect_err("hash mismatch");
        assert!(
            matches!(err, MintError::InvalidManifest { epoch: 4, .. }),
            "{err:?}"
        );
    }
}
