//! The production chain backend (anchor-client JSON-RPC) against a real in-process
//! `solana-test-validator` on loopback, running the same rewards chain code as the embedded
//! backend: a 2-of-3 multisig mint, batched minting with exact balances, and a MintTo with one
//! signature refused.

use anchor_client::CommitmentConfig;
use rewards::chain::instructions::{
    DEFAULT_DECIMALS, create_associated_token_account, mint_to_owner,
};
use rewards::chain::ops::{TokenConfig, create_token, mint_batches};
use rewards::chain::plan::{MintAuthority, Transfer, plan_batches};
use rewards::chain::{Chain, ChainError, Keypair, Pubkey, RpcChain, Signer, TxStatus};
use solana_test_validator::TestValidatorGenesis;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Programs in genesis are usable only from slot 2 on ("Program is not deployed" before).
const FIRST_USABLE_SLOT: u64 = 2;
const STARTUP_TIMEOUT: Duration = Duration::from_secs(60);

fn wait_for_slot(chain: &RpcChain, slot: u64) {
    let start = Instant::now();
    loop {
        match chain.slot() {
            Ok(current) if current >= slot => return,
            _ if start.elapsed() > STARTUP_TIMEOUT => {
                panic!("validator not at slot {slot} in time")
            }
            _ => std::thread::sleep(Duration::from_millis(100)),
        }
    }
}

#[test]
fn multisig_minting_through_anchor_client_against_a_test_validator() {
    let (validator, faucet) = TestValidatorGenesis::default().start();
    let payer = Arc::new(faucet);
    let mut chain = RpcChain::connect(
        &validator.rpc_url(),
        payer.clone(),
        CommitmentConfig::confirmed(),
    )
    .expect("connect");
    wait_for_slot(&chain, FIRST_USABLE_SLOT);

    let (mint, multisig) = (Keypair::new(), Keypair::new());
    let operators = [Keypair::new(), Keypair::new(), Keypair::new()];
    let config = TokenConfig {
        decimals: DEFAULT_DECIMALS,
        threshold: 2,
        operators: operators.iter().map(Signer::pubkey).collect(),
    };
    create_token(&mut chain, &config, payer.as_ref(), &mint, &multisig).expect("create token");

    let mut owners: Vec<Pubkey> = (0..9).map(|_| Pubkey::new_unique()).collect();
    owners.sort();
    let transfers: Vec<Transfer> = owners
        .iter()
        .enumerate()
        .map(|(i, owner)| Transfer {
            owner: *owner,
            amount: 1_000_000 * (i as u64 + 1) + 3,
        })
        .collect();
    let authority = MintAuthority {
        fee_payer: payer.pubkey(),
        mint: mint.pubkey(),
        multisig: multisig.pubkey(),
        signers: vec![operators[0].pubkey(), operators[1].pubkey()],
    };
    let batches = plan_batches(&transfers, &authority, "coverage-proof epoch 1").expect("plan");
    assert!(
        batches.len() >= 2,
        "9 transfers with 2 signers need two transactions"
    );
    let signers: [&dyn Signer; 2] = [&operators[0], &operators[1]];
    let signatures = mint_batches(&mut chain, &batches, payer.as_ref(), &signers).expect("mint");
    for signature in &signatures {
        assert_eq!(
            chain.signature_status(signature).expect("status"),
            Some(TxStatus::Succeeded)
        );
    }
    for transfer in &transfers {
        let balance = chain
            .token_balance(&transfer.owner, &mint.pubkey())
            .expect("balance");
        assert_eq!(balance, transfer.amount);
    }
    let total: u64 = transfers.iter().map(|t| t.amount).sum();
    assert_eq!(chain.mint_supply(&mint.pubkey()).expect("supply"), total);

    // One operator alone: refused at preflight, nothing minted.
    let stranger = Pubkey::new_unique();
    let one = [operators[2].pubkey()];
    let instructions = [
        create_associated_token_account(&payer.pubkey(), &stranger, &mint.pubkey()),
        mint_to_owner(&mint.pubkey(), &stranger, &multisig.pubkey(), &one, 500).expect("ix"),
    ];
    let err = chain
        .send(&instructions, &[&operators[2]], payer.as_ref())
        .expect_err("one of three operators is not enough");
    let ChainError::Rejected { reason, .. } = &err else {
        panic!("expected a rejection, got {err:?}");
    };
    assert!(reason.contains("MissingRequiredSignature"), "{reason}");
    assert_eq!(
        chain
            .token_balance(&stranger, &mint.pubkey())
            .expect("balance"),
        0
    );
    assert_eq!(chain.mint_supply(&mint.pubkey()).expect("supply"), total);
}
