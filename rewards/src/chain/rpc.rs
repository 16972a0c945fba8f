//! The production backend: a Solana JSON-RPC endpoint through anchor-client 1.2 (its default
//! `solana-v3` cohort, i.e. `solana-rpc-client` 3.1; `solana-v4` needs rustc >= 1.97.1).
//!
//! Minting stock SPL tokens needs no Anchor program: anchor-client provides the cluster
//! configuration and the RPC client, and the transactions are the same wire bytes the embedded
//! backend executes.
//!
//! The client is blocking and runs its own tokio runtime: call it from synchronous code or from
//! `tokio::task::spawn_blocking`, never directly inside an async task (it would panic).

use super::error::{ChainError, Result};
use super::{
    AccountInfo, Chain, Hash, Pubkey, RecentBlockhash, Signature, SignedTransaction, TxStatus,
};
use anchor_client::{Client, Cluster, CommitmentConfig};
use solana_keypair::Keypair;
use solana_rpc_client::rpc_client::RpcClient;
use std::str::FromStr;
use std::sync::Arc;

/// A cluster reached over JSON-RPC.
pub struct RpcChain {
    rpc: RpcClient,
    commitment: CommitmentConfig,
}

impl std::fmt::Debug for RpcChain {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RpcChain")
            .field("url", &self.rpc.url())
            .field("commitment", &self.commitment.commitment)
            .finish()
    }
}

fn rpc_error(err: impl std::fmt::Display) -> ChainError {
    ChainError::Rpc(err.to_string())
}

impl RpcChain {
    /// Connects to `cluster`: an `http(s)://` URL (the websocket URL is derived, port + 1) or
    /// `localnet` / `devnet` / `testnet` / `mainnet`. `payer` is anchor-client's default payer;
    /// every send names its own fee payer anyway. Transactions are awaited at `commitment`.
    pub fn connect(
        cluster: &str,
        payer: Arc<Keypair>,
        commitment: CommitmentConfig,
    ) -> Result<Self> {
        let cluster = Cluster::from_str(cluster).map_err(rpc_error)?;
        let client = Client::new_with_options(cluster, payer, commitment);
        let program = client.program(spl_token_interface::ID).map_err(rpc_error)?;
        Ok(Self {
            rpc: program.rpc(),
            commitment,
        })
    }

    /// The endpoint URL.
    pub fn url(&self) -> String {
        self.rpc.url()
    }

    /// The current slot at this chain's commitment.
    pub fn slot(&self) -> Result<u64> {
        self.rpc
            .get_slot_with_commitment(self.commitment)
            .map_err(rpc_error)
    }
}

impl Chain for RpcChain {
    fn latest_blockhash(&self) -> Result<Hash> {
        self.rpc.get_latest_blockhash().map_err(rpc_error)
    }

    fn is_blockhash_valid(&self, blockhash: &Hash) -> Result<bool> {
        self.rpc
            .is_blockhash_valid(blockhash, self.commitment)
            .map_err(rpc_error)
    }

    fn recent_blockhash(&self) -> Result<RecentBlockhash> {
        let (hash, last_valid_block_height) = self
            .rpc
            .get_latest_blockhash_with_commitment(self.commitment)
            .map_err(rpc_error)?;
        Ok(RecentBlockhash {
            hash,
            last_valid_block_height,
        })
    }

    fn block_height(&self) -> Result<u64> {
        self.rpc
            .get_block_height_with_commitment(self.commitment)
            .map_err(rpc_error)
    }

    fn submit(&mut self, transaction: &SignedTransaction) -> Result<Signature> {
        let signature = transaction.signature();
        let decoded: anchor_client::Transaction = bincode::deserialize(transaction.wire())
            .map_err(|e| ChainError::Decode {
                what: "transaction",
                detail: e.to_string(),
            })?;
        match self.rpc.send_and_confirm_transaction(&decoded) {
            Ok(confirmed) => Ok(confirmed),
            Err(err) => match err.get_transaction_error() {
                Some(tx_err) => Err(ChainError::Rejected {
                    signature,
                    reason: format!("{tx_err:?}"),
                }),
                None => Err(rpc_error(err)),
            },
        }
    }

    /// Looks in the node's recent status cache first (it covers a blockhash's lifetime), then in
    /// its transaction history. A node without history (`--enable-rpc-transaction-history` off)
    /// answers that with an error rather than `None`, so an old landed transaction is never
    /// reported as unknown.
    fn signature_status(&self, signature: &Signature) -> Result<Option<TxStatus>> {
        let recent = self
            .rpc
            .get_signature_status_with_commitment(signature, self.commitment)
            .map_err(rpc_error)?;
        let status = match recent {
            Some(status) => Some(status),
            None => self
                .rpc
                .get_signature_status_with_commitment_and_history(signature, self.commitment, true)
                .map_err(rpc_error)?,
        };
        Ok(status.map(|result| match result {
            Ok(()) => TxStatus::Succeeded,
            Err(err) => TxStatus::Failed(format!("{err:?}")),
        }))
    }

    fn account(&self, address: &Pubkey) -> Result<Option<AccountInfo>> {
        let response = self
            .rpc
            .get_account_with_commitment(address, self.commitment)
            .map_err(rpc_error)?;
        Ok(response.value.map(|account| AccountInfo {
            lamports: account.lamports,
            owner: account.owner,
            data: account.data,
        }))
    }

    fn minimum_balance_for_rent_exemption(&self, len_bytes: usize) -> Result<u64> {
        self.rpc
            .get_minimum_balance_for_rent_exemption(len_bytes)
            .map_err(rpc_error)
    }
}
