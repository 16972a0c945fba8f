//! `rewards chain create-token`, `rewards mint` and `rewards mint status` as separate processes
//! over one SQLite database and one embedded chain state file, as an operator runs them.

mod mint_support;

use mint_support::{
    Operator, apply_parameters, manifest, parameters, store_approval, store_manifest,
};
use rewards::chain::token_file::TokenFile;
use rewards::chain::{Chain, LiteSvmChain, Pubkey, Signer};
use rewards::mint::manifest_hash;
use std::path::Path;
use std::process::{Command, Output};

fn rewards(config: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_rewards"))
        .arg("--config")
        .arg(config)
        .args(args)
        .env("RUST_LOG", "warn")
        .output()
        .expect("run rewards")
}

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn an_operator_creates_the_token_and_mints_an_approved_epoch() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path().display();
    let config = dir.path().join("rewards.toml");
    let database_url = format!("sqlite://{d}/oracle.db");
    std::fs::write(
        &config,
        format!(
            "database_url = \"{database_url}\"\n[chain]\nstate_file = \"{d}/chain-state.json\"\n\
             payer_keypair = \"{d}/payer.json\"\ntoken_file = \"{d}/token.json\"\n"
        ),
    )
    .expect("config");
    let operators = [Operator::new(31), Operator::new(32), Operator::new(33)];
    let key_files: Vec<String> = operators
        .iter()
        .enumerate()
        .map(|(i, op)| {
            let path = dir.path().join(format!("op{i}.json"));
            solana_keypair::write_keypair_file(&op.solana, &path).expect("key file");
            path.display().to_string()
        })
        .collect();
    let keys: Vec<String> = operators
        .iter()
        .map(|o| o.solana.pubkey().to_string())
        .collect();

    let created = rewards(
        &config,
        &[
            "chain",
            "create-token",
            "--operator",
            &keys[0],
            "--operator",
            &keys[1],
            "--operator",
            &keys[2],
            "--threshold",
            "2",
        ],
    );
    assert!(created.status.success(), "{}", text(&created));
    let token = TokenFile::read(&dir.path().join("token.json")).expect("token file");
    assert_eq!(token.threshold, 2);
    let again = rewards(&config, &["chain", "create-token", "--operator", &keys[0]]);
    assert!(
        !again.status.success(),
        "a second token would overwrite the file"
    );

    let missing = rewards(
        &config,
        &["mint", "--epoch", "20459", "--signer", &key_files[0]],
    );
    assert!(!missing.status.success());
    assert!(
        text(&missing).contains("run `rewards epoch run --epoch 20459` first"),
        "{}",
        text(&missing)
    );

    let manifest = manifest(20_459, 12, 2_000_000);
    let hash = manifest_hash(&manifest);
    {
        let db = db::Db::connect(&database_url).await.expect("db");
        apply_parameters(db.pool(), &parameters(100_000_000_000)).await;
        store_manifest(db.pool(), &manifest).await;
        store_approval(db.pool(), &operators[0].approve(20_459, hash)).await;
        db.close().await;
    }
    let one = rewards(
        &config,
        &[
            "mint",
            "--epoch",
            "20459",
            "--signer",
            &key_files[0],
            "--signer",
            &key_files[1],
        ],
    );
    assert!(!one.status.success());
    assert!(
        text(&one).contains("epoch 20459: 1 approval of manifest"),
        "{}",
        text(&one)
    );

    {
        let db = db::Db::connect(&database_url).await.expect("db");
        store_approval(db.pool(), &operators[2].approve(20_459, hash)).await;
        db.close().await;
    }
    let minted = rewards(
        &config,
        &[
            "mint",
            "--epoch",
            "20459",
            "--signer",
            &key_files[2],
            "--signer",
            &key_files[0],
        ],
    );
    assert!(minted.status.success(), "{}", text(&minted));
    let out = String::from_utf8_lossy(&minted.stdout);
    assert!(
        out.contains(&format!("manifest {}", hex::encode(hash))),
        "{out}"
    );
    assert!(out.contains("confirmed"), "{out}");

    let status = rewards(&config, &["mint", "status", "--epoch", "20459"]);
    assert!(status.status.success(), "{}", text(&status));
    assert!(String::from_utf8_lossy(&status.stdout).contains("complete"));

    let chain = LiteSvmChain::open(&dir.path().join("chain-state.json")).expect("open");
    for owner in &manifest.owners {
        let key = Pubkey::try_from(owner.owner_key.as_slice()).expect("key");
        assert_eq!(
            chain.token_balance(&key, &token.mint).expect("balance"),
            owner.amount
        );
    }
    assert_eq!(
        chain.mint_supply(&token.mint).expect("supply"),
        manifest.total_paid
    );
}
