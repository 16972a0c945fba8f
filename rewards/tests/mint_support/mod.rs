//! Shared fixtures of the mint tests: a 2-of-3 multisig token on a persisted embedded chain, a
//! manifest with fresh owners, operator approvals stored like `rewards sign` stores them.

#![allow(dead_code)]

use rewards::chain::instructions::DEFAULT_DECIMALS;
use rewards::chain::ops::{TokenConfig, create_token};
use rewards::chain::{Chain, Keypair, LiteSvmChain, Pubkey, Signer};
use rewards::mint::{
    CrashHook, MintContext, MintError, MintOptions, MintReport, Step, TokenAddresses,
    manifest_hash, mint_epoch,
};
use schemas::clock::Clock;
use schemas::parameters::ParameterSet;
use schemas::proto::{ManifestApproval, OwnerReward, RewardManifest};
use schemas::sign::SingleSigned;
use sqlx::AnyPool;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

pub const PAYER_LAMPORTS: u64 = 1_000_000_000_000;

/// An operator: the same ed25519 secret as a `schemas` key (signs approvals) and a Solana key
/// (signs mint transactions).
pub struct Operator {
    pub schemas: schemas::Keypair,
    pub solana: Keypair,
}

impl Operator {
    pub fn new(seed: u8) -> Self {
        let schemas = schemas::Keypair::from_seed([seed; 32]);
        let solana = Keypair::new_from_array(schemas.secret_seed());
        assert_eq!(
            schemas.public().as_bytes(),
            &solana.pubkey().to_bytes(),
            "one key, two types"
        );
        Self { schemas, solana }
    }

    pub fn approve(&self, epoch: u64, hash: [u8; 32]) -> ManifestApproval {
        let mut approval = ManifestApproval {
            epoch,
            manifest_hash: hash.to_vec(),
            ..Default::default()
        };
        approval.sign_with(&self.schemas);
        approval
    }
}

/// A token with a 2-of-3 multisig authority on a chain persisted in `dir`.
pub struct Token {
    pub dir: tempfile::TempDir,
    pub payer: Keypair,
    pub addresses: TokenAddresses,
    pub operators: [Operator; 3],
}

impl Token {
    pub fn create() -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let payer = Keypair::new();
        let (mint, multisig) = (Keypair::new(), Keypair::new());
        let operators = [Operator::new(11), Operator::new(12), Operator::new(13)];
        let mut chain = LiteSvmChain::open(&state_file(dir.path())).expect("open chain");
        chain
            .airdrop(&payer.pubkey(), PAYER_LAMPORTS)
            .expect("airdrop");
        let config = TokenConfig {
            decimals: DEFAULT_DECIMALS,
            threshold: 2,
            operators: operators.iter().map(|o| o.solana.pubkey()).collect(),
        };
        create_token(&mut chain, &config, &payer, &mint, &multisig).expect("create token");
        Self {
            dir,
            payer,
            addresses: TokenAddresses {
                mint: mint.pubkey(),
                multisig: multisig.pubkey(),
            },
            operators,
        }
    }

    pub fn state_file(&self) -> PathBuf {
        state_file(self.dir.path())
    }

    /// Opens the chain as a new process would (the blockhash of the last process expires).
    pub fn open(&self) -> LiteSvmChain {
        LiteSvmChain::open(&self.state_file()).expect("open chain")
    }
}

fn state_file(dir: &Path) -> PathBuf {
    dir.join(rewards::chain::STATE_FILE_NAME)
}

/// A manifest for `epoch` paying `owners` fresh wallets `base + i` base units each.
pub fn manifest(epoch: u64, owners: usize, base: u64) -> RewardManifest {
    let mut keys: Vec<Pubkey> = (0..owners).map(|_| Keypair::new().pubkey()).collect();
    keys.sort();
    let owners: Vec<OwnerReward> = keys
        .iter()
        .enumerate()
        .map(|(i, key)| OwnerReward {
            owner_key: key.to_bytes().to_vec(),
            amount: base + i as u64,
        })
        .collect();
    let total_paid = owners.iter().map(|o| o.amount).sum();
    RewardManifest {
        epoch,
        emission: total_paid,
        owners,
        total_paid,
        ..Default::default()
    }
}

/// Stores the manifest as the manifest job does (`reward_manifests`).
pub async fn store_manifest(pool: &AnyPool, manifest: &RewardManifest) {
    use prost::Message;
    sqlx::query(
        "INSERT INTO reward_manifests (epoch, manifest_hash, manifest, computed_ms) VALUES ($1, $2, $3, 0)",
    )
    .bind(manifest.epoch as i64)
    .bind(manifest_hash(manifest).to_vec())
    .bind(manifest.encode_to_vec())
    .execute(pool)
    .await
    .expect("store manifest");
}

/// Stores an approval as `rewards sign` does (`manifest_approvals`).
pub async fn store_approval(pool: &AnyPool, approval: &ManifestApproval) {
    sqlx::query(
        "INSERT INTO manifest_approvals (epoch, manifest_hash, signer_key, signature, signed_ms) \
         VALUES ($1, $2, $3, $4, 0)",
    )
    .bind(approval.epoch as i64)
    .bind(approval.manifest_hash.clone())
    .bind(approval.signer_key.clone())
    .bind(approval.signature.clone())
    .execute(pool)
    .await
    .expect("store approval");
}

/// Operators 0 and 2 approve `manifest`.
pub async fn approve_two(pool: &AnyPool, token: &Token, manifest: &RewardManifest) {
    let hash = manifest_hash(manifest);
    for i in [0, 2] {
        store_approval(pool, &token.operators[i].approve(manifest.epoch, hash)).await;
    }
}

/// Parameters for tests, independent of the genesis defaults: version 2 in force from epoch 0,
/// emission `per_epoch` from epoch 0 without halving, the default circuit breaker.
pub fn parameters(per_epoch: u64) -> ParameterSet {
    let mut set = ParameterSet {
        version: 2,
        effective_epoch: 0,
        ..ParameterSet::default()
    };
    set.emission.per_epoch = per_epoch;
    set.emission.genesis_epoch = 0;
    set.emission.halving_epochs = 0;
    set
}

/// Applies `set` as governance would (`parameter_sets`).
pub async fn apply_parameters(pool: &AnyPool, set: &ParameterSet) {
    db::test_support::apply_parameters(pool, set)
        .await
        .expect("apply parameters");
}

/// A settable clock.
#[derive(Debug)]
pub struct TestClock(pub AtomicU64);

impl TestClock {
    pub fn at_ms(ms: u64) -> Self {
        Self(AtomicU64::new(ms * 1_000_000))
    }
    pub fn advance(&self, by: Duration) {
        self.0.fetch_add(by.as_nanos() as u64, Ordering::SeqCst);
    }
}

impl Clock for TestClock {
    fn now_ns(&self) -> u64 {
        self.0.load(Ordering::SeqCst)
    }
    fn to_real(&self, simulated: Duration) -> Duration {
        simulated
    }
}

/// Records every step and crashes at the `crash_at`-th (from 0), if any.
#[derive(Debug, Default)]
pub struct Recorder {
    pub crash_at: Option<usize>,
    pub steps: Mutex<Vec<Step>>,
}

impl Recorder {
    pub fn crash_at(index: usize) -> Self {
        Self {
            crash_at: Some(index),
            steps: Mutex::new(Vec::new()),
        }
    }
    pub fn steps(&self) -> Vec<Step> {
        self.steps.lock().expect("lock").clone()
    }
}

impl CrashHook for Recorder {
    fn reached(&self, _epoch: u64, step: Step) -> Result<(), MintError> {
        let mut steps = self.steps.lock().expect("lock");
        let index = steps.len();
        steps.push(step);
        if self.crash_at == Some(index) {
            return Err(MintError::Crashed(step.to_string()));
        }
        Ok(())
    }
}

/// Mints `manifest` with `signers` (indices into the operators).
pub async fn mint(
    pool: &AnyPool,
    chain: &mut dyn Chain,
    token: &Token,
    signers: &[usize],
    clock: &dyn Clock,
    hook: &dyn CrashHook,
    manifest: &RewardManifest,
) -> Result<MintReport, MintError> {
    let operators: Vec<&dyn Signer> = signers
        .iter()
        .map(|&i| &token.operators[i].solana as &dyn Signer)
        .collect();
    let mut ctx = MintContext {
        pool,
        chain,
        fee_payer: &token.payer,
        operators: &operators,
        token: token.addresses,
        clock,
        hook,
        options: MintOptions {
            max_chain_errors: 3,
            retry_delay: Duration::from_millis(1),
        },
    };
    mint_epoch(&mut ctx, manifest).await
}

/// Every owner of `manifest` holds exactly its amount and the supply is `supply`.
pub fn assert_paid_exactly(
    chain: &dyn Chain,
    token: &Token,
    manifest: &RewardManifest,
    supply: u64,
) {
    for owner in &manifest.owners {
        let key = Pubkey::try_from(owner.owner_key.as_slice()).expect("key");
        let balance = chain
            .token_balance(&key, &token.addresses.mint)
            .expect("balance");
        assert_eq!(balance, owner.amount, "owner {key}");
    }
    assert_eq!(
        chain.mint_supply(&token.addresses.mint).expect("supply"),
        supply
    );
}
