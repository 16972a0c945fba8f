//! The `[chain]` settings: which backend and how to reach it (documented with defaults in
//! `pkg/settings-template.toml`).

use super::error::{ChainError, Result};
use super::{Chain, LiteSvmChain, RpcChain};
use anchor_client::CommitmentConfig;
use serde::{Deserialize, Serialize};
use solana_keypair::{Keypair, read_keypair_file, write_keypair_file};
use solana_signer::Signer;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Which chain the rewards job pays on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Backend {
    /// The embedded litesvm chain persisted in `state_file` (no network).
    Litesvm,
    /// A Solana JSON-RPC endpoint at `rpc_url`.
    Rpc,
}

/// Commitment level awaited for RPC reads and confirmations.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Commitment {
    /// Processed by the node (may be rolled back).
    Processed,
    /// Voted on by a supermajority.
    Confirmed,
    /// Rooted.
    Finalized,
}

/// The `[chain]` table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ChainSettings {
    /// Backend (default `litesvm`).
    pub backend: Backend,
    /// State file of the embedded chain (default `rewards-data/chain-state.json`).
    pub state_file: PathBuf,
    /// RPC endpoint: an `http(s)://` URL or `localnet`/`devnet`/`testnet`/`mainnet`.
    pub rpc_url: String,
    /// RPC commitment (default `confirmed`).
    pub commitment: Commitment,
    /// Fee payer key file (Solana CLI JSON); created and funded on first use with `litesvm`.
    pub payer_keypair: PathBuf,
    /// The token file `rewards chain create-token` writes and `rewards mint` reads (default
    /// `rewards-data/token.json`).
    pub token_file: PathBuf,
}

impl Default for ChainSettings {
    fn default() -> Self {
        Self {
            backend: Backend::Litesvm,
            state_file: PathBuf::from("rewards-data").join(super::STATE_FILE_NAME),
            rpc_url: "http://127.0.0.1:8899".into(),
            commitment: Commitment::Confirmed,
            payer_keypair: PathBuf::from("rewards-data/payer.json"),
            token_file: PathBuf::from("rewards-data/token.json"),
        }
    }
}

/// Lamports given to a new embedded-chain fee payer (1,000 SOL).
const EMBEDDED_PAYER_LAMPORTS: u64 = 1_000_000_000_000;

impl ChainSettings {
    /// The fee payer key (for `litesvm`, created if missing).
    pub fn fee_payer(&self) -> Result<Keypair> {
        if self.backend == Backend::Litesvm && !self.payer_keypair.exists() {
            let key = Keypair::new();
            if let Some(dir) = self
                .payer_keypair
                .parent()
                .filter(|d| !d.as_os_str().is_empty())
            {
                std::fs::create_dir_all(dir).map_err(|source| key_io(dir, source))?;
            }
            write_keypair_file(&key, &self.payer_keypair)
                .map_err(|e| key_error(&self.payer_keypair, e))?;
            return Ok(key);
        }
        read_keypair(&self.payer_keypair)
    }

    /// Opens the configured backend. With `litesvm`, a fee payer without lamports is funded.
    pub fn connect(&self, fee_payer: &Keypair) -> Result<Box<dyn Chain>> {
        match self.backend {
            Backend::Litesvm => {
                if let Some(dir) = self
                    .state_file
                    .parent()
                    .filter(|d| !d.as_os_str().is_empty())
                {
                    std::fs::create_dir_all(dir).map_err(|source| key_io(dir, source))?;
                }
                let mut chain = LiteSvmChain::open(&self.state_file)?;
                if chain.account(&fee_payer.pubkey())?.is_none() {
                    chain.airdrop(&fee_payer.pubkey(), EMBEDDED_PAYER_LAMPORTS)?;
                }
                Ok(Box::new(chain))
            }
            Backend::Rpc => {
                let commitment = match self.commitment {
                    Commitment::Processed => CommitmentConfig::processed(),
                    Commitment::Confirmed => CommitmentConfig::confirmed(),
                    Commitment::Finalized => CommitmentConfig::finalized(),
                };
                let payer = Arc::new(fee_payer.insecure_clone());
                Ok(Box::new(RpcChain::connect(
                    &self.rpc_url,
                    payer,
                    commitment,
                )?))
            }
        }
    }
}

/// Reads a Solana CLI JSON key file.
pub fn read_keypair(path: &Path) -> Result<Keypair> {
    read_keypair_file(path).map_err(|e| key_error(path, e))
}

fn key_error(path: &Path, err: impl std::fmt::Display) -> ChainError {
    key_io(path, std::io::Error::other(err.to_string()))
}

fn key_io(path: &Path, source: std::io::Error) -> ChainError {
    ChainError::StateIo {
        path: path.into(),
        source,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_overrides_parse() {
        let settings: ChainSettings = toml::from_str("").expect("empty");
        assert_eq!(settings, ChainSettings::default());
        let rpc: ChainSettings =
            toml::from_str("backend = \"rpc\"\nrpc_url = \"devnet\"\ncommitment = \"finalized\"")
                .expect("rpc");
        assert_eq!(rpc.backend, Backend::Rpc);
        assert_eq!(rpc.commitment, Commitment::Finalized);
        assert!(toml::from_str::<ChainSettings>("bogus = 1").is_err());
    }

    #[test]
    fn embedded_payer_is_created_once_and_funded() {
        let dir = tempfile::tempdir().expect("tempdir");
        let settings = ChainSettings {
            state_file: dir.path().join("chain.json"),
            payer_keypair: dir.path().join("keys/payer.json"),
            ..ChainSettings::default()
        };
        let payer = settings.fee_payer().expect("created");
        assert_eq!(settings.fee_payer().expect("read").pubkey(), payer.pubkey());
        let chain = settings.connect(&payer).expect("open");
        let funded = chain
            .account(&payer.pubkey())
            .expect("read")
            .map(|a| a.lamports);
        assert_eq!(funded, Some(EMBEDDED_PAYER_LAMPORTS));
    }
}
