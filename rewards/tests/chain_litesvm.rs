//! The embedded chain backend executing the real SPL Token (p-token) and ATA programs: a 2-of-3
//! multisig mint authority, batched minting, refusal with one signer, persistence across
//! reopened state files, idempotent token account creation.

use rewards::chain::instructions::{DEFAULT_DECIMALS, mint_to_owner};
use rewards::chain::ops::{TokenConfig, create_token, mint_batches, sign_batch};
use rewards::chain::plan::{MintAuthority, Transfer, plan_batches};
use rewards::chain::{
    Chain, ChainError, Keypair, LiteSvmChain, PACKET_DATA_SIZE_BYTES, Pubkey, Signer, TxStatus,
};

const PAYER_LAMPORTS: u64 = 100_000_000_000;

/// A token with a 2-of-3 multisig authority on `chain`.
struct Token {
    payer: Keypair,
    mint: Keypair,
    multisig: Keypair,
    operators: [Keypair; 3],
}

impl Token {
    fn create(chain: &mut LiteSvmChain) -> Self {
        let token = Self {
            payer: Keypair::new(),
            mint: Keypair::new(),
            multisig: Keypair::new(),
            operators: [Keypair::new(), Keypair::new(), Keypair::new()],
        };
        chain
            .airdrop(&token.payer.pubkey(), PAYER_LAMPORTS)
            .expect("airdrop");
        let config = TokenConfig {
            decimals: DEFAULT_DECIMALS,
            threshold: 2,
            operators: token.operators.iter().map(Signer::pubkey).collect(),
        };
        create_token(chain, &config, &token.payer, &token.mint, &token.multisig)
            .expect("create mint and multisig");
        token
    }

    /// The mint authority as signed by operators 0 and 2.
    fn authority(&self) -> MintAuthority {
        MintAuthority {
            fee_payer: self.payer.pubkey(),
            mint: self.mint.pubkey(),
            multisig: self.multisig.pubkey(),
            signers: vec![self.operators[0].pubkey(), self.operators[2].pubkey()],
        }
    }

    fn signers(&self) -> [&dyn Signer; 2] {
        [&self.operators[0], &self.operators[2]]
    }
}

fn sorted_transfers(n: usize) -> Vec<Transfer> {
    let mut owners: Vec<Pubkey> = (0..n).map(|_| Pubkey::new_unique()).collect();
    owners.sort();
    owners
        .into_iter()
        .enumerate()
        .map(|(i, owner)| Transfer {
            owner,
            amount: 1_000_000 * (i as u64 + 1) + 7,
        })
        .collect()
}

#[test]
fn multisig_mints_batches_with_exact_balances() {
    let mut chain = LiteSvmChain::in_memory();
    let token = Token::create(&mut chain);
    let transfers = sorted_transfers(20);
    let batches =
        plan_batches(&transfers, &token.authority(), "coverage-proof epoch 1").expect("plan");
    assert!(
        batches.len() >= 2,
        "20 transfers need several transactions, got {}",
        batches.len()
    );
    let signatures =
        mint_batches(&mut chain, &batches, &token.payer, &token.signers()).expect("mint");
    assert_eq!(signatures.len(), batches.len());
    for signature in &signatures {
        assert_eq!(
            chain.signature_status(signature).expect("status"),
            Some(TxStatus::Succeeded)
        );
    }
    for transfer in &transfers {
        let balance = chain
            .token_balance(&transfer.owner, &token.mint.pubkey())
            .expect("balance");
        assert_eq!(balance, transfer.amount);
    }
    let total: u64 = transfers.iter().map(|t| t.amount).sum();
    assert_eq!(
        chain.mint_supply(&token.mint.pubkey()).expect("supply"),
        total
    );
}

#[test]
fn one_signature_is_refused_and_nothing_is_minted() {
    let mut chain = LiteSvmChain::in_memory();
    let token = Token::create(&mut chain);
    let owner = Pubkey::new_unique();
    let mint = token.mint.pubkey();
    let ata = rewards::chain::instructions::create_associated_token_account(
        &token.payer.pubkey(),
        &owner,
        &mint,
    );
    let one = [token.operators[1].pubkey()];
    let mint_to = mint_to_owner(&mint, &owner, &token.multisig.pubkey(), &one, 500).expect("ix");
    let err = chain
        .send(&[ata, mint_to], &[&token.operators[1]], &token.payer)
        .expect_err("one of three operators is not enough");
    let ChainError::Rejected { signature, reason } = err else {
        panic!("expected a rejection, got {err:?}");
    };
    assert!(reason.contains("MissingRequiredSignature"), "{reason}");
    assert!(matches!(
        chain.signature_status(&signature).expect("status"),
        Some(TxStatus::Failed(_))
    ));
    assert_eq!(chain.token_balance(&owner, &mint).expect("balance"), 0);
    assert_eq!(chain.mint_supply(&mint).expect("supply"), 0);
}

#[test]
fn state_file_carries_accounts_and_statuses_to_a_new_process() {
    let dir = tempfile::tempdir().expect("tempdir");
    let transfers = sorted_transfers(3);
    let (token, signature, blockhash) = {
        let mut chain = LiteSvmChain::open_in(dir.path()).expect("open");
        let token = Token::create(&mut chain);
        let batches = plan_batches(&transfers, &token.authority(), "epoch 2").expect("plan");
        assert_eq!(batches.len(), 1);
        let blockhash = chain.latest_blockhash().expect("blockhash");
        let tx = sign_batch(&batches[0], &token.payer, &token.signers(), blockhash).expect("sign");
        assert!(tx.wire().len() <= PACKET_DATA_SIZE_BYTES);
        // Known before sending: what an exactly-once ledger records.
        let signature = tx.signature();
        assert_eq!(chain.signature_status(&signature).expect("status"), None);
        assert_eq!(chain.submit(&tx).expect("submit"), signature);
        (token, signature, blockhash)
    };
    let mut reopened = LiteSvmChain::open_in(dir.path()).expect("reopen");
    let state_file = dir.path().join(rewards::chain::STATE_FILE_NAME);
    assert_eq!(reopened.state_path(), Some(state_file.as_path()));
    assert_eq!(
        reopened.signature_status(&signature).expect("status"),
        Some(TxStatus::Succeeded)
    );
    for transfer in &transfers {
        let balance = reopened
            .token_balance(&transfer.owner, &token.mint.pubkey())
            .expect("balance");
        assert_eq!(balance, transfer.amount);
    }
    // The old blockhash expired with the old process; the same bytes cannot land twice.
    assert!(!reopened.is_blockhash_valid(&blockhash).expect("valid?"));
    // The reloaded mint, multisig and payer still work: mint again under the same authority.
    let more = plan_batches(&transfers[..1], &token.authority(), "epoch 3").expect("plan");
    mint_batches(&mut reopened, &more, &token.payer, &token.signers()).expect("mint again");
    let first = &transfers[0];
    let balance = reopened
        .token_balance(&first.owner, &token.mint.pubkey())
        .expect("balance");
    assert_eq!(balance, 2 * first.amount);
}

#[test]
fn second_open_of_the_same_state_file_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("chain.json");
    let _first = LiteSvmChain::open(&path).expect("open");
    let second = LiteSvmChain::open(&path);
    assert!(
        matches!(second, Err(ChainError::StateIo { .. })),
        "{second:?}"
    );
}

#[test]
fn minting_twice_to_the_same_owner_reuses_the_token_account() {
    let mut chain = LiteSvmChain::in_memory();
    let token = Token::create(&mut chain);
    let transfers = sorted_transfers(2);
    for epoch in 0..2 {
        let tag = format!("epoch {epoch}");
        let batches = plan_batches(&transfers, &token.authority(), &tag).expect("plan");
        mint_batches(&mut chain, &batches, &token.payer, &token.signers()).expect("mint");
    }
    for transfer in &transfers {
        let balance = chain
            .token_balance(&transfer.owner, &token.mint.pubkey())
            .expect("balance");
        assert_eq!(balance, 2 * transfer.amount);
    }
}
