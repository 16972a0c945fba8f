//! The embedded chain: litesvm 0.16 executing the real SPL Token and ATA programs in-process.
//!
//! **Token program.** litesvm loads mainnet's feature set, in which
//! `replace_spl_token_with_p_token` is active, so the code at `Tokenkeg…` is the bundled
//! **p-token** (Pinocchio) build — what mainnet runs. The ATA program is
//! `spl_associated_token_account` 1.1.1 and the memo program `spl_memo` 4.0.0, both bundled.
//!
//! **State file.** [`LiteSvmChain::open`] makes several processes see one chain: every
//! transaction it processes is followed by an atomic rewrite of the state file with
//! - every writable account of that transaction (fee payer, mint, multisig, token accounts…),
//! - the transaction's status (succeeded, or included but failed),
//! - a blockhash generation, advanced by every open.
//!
//! Opening loads a fresh litesvm (programs, sysvars) and writes the stored accounts back.
//!
//! **Limits.**
//! - One process at a time: an exclusive lock on `<state file>.lock` is held while open;
//!   a second open fails rather than waiting.
//! - Only accounts written by transactions sent through [`LiteSvmChain`] (and airdrops) persist;
//!   anything set directly on a litesvm does not.
//! - Blockhashes and block height: the chain's block height is its blockhash generation, and a
//!   blockhash is valid for its own block only (its last valid block height is the height it
//!   was issued at). Every open, and every [`LiteSvmChain::expire_blockhash`], starts a new
//!   block, so a transaction signed in an earlier process can never land (like a real blockhash
//!   ~150 blocks old); within one process the blockhash expires only when asked to.
//! - The slot, clock and transaction logs are not persisted; statuses are.
//! - The file holds every account and status and is rewritten after each transaction, which is
//!   fine for thousands of owners, not for millions.

mod state;

use super::error::{ChainError, Result};
use super::{
    AccountInfo, Chain, Hash, Pubkey, RecentBlockhash, Signature, SignedTransaction, TxStatus,
};
use litesvm::LiteSVM;
use solana_message::Message;
use state::ChainState;
use std::fs::{File, TryLockError};
use std::path::{Path, PathBuf};

/// Owner of the sysvar accounts, which litesvm manages itself.
const SYSVAR_OWNER: Pubkey =
    solana_address::address!("Sysvar1111111111111111111111111111111111111");

/// File name of the state file in a data directory.
pub const STATE_FILE_NAME: &str = "chain-state.json";

/// An in-process chain, optionally persisted to a state file.
pub struct LiteSvmChain {
    svm: LiteSVM,
    state: ChainState,
    persistence: Option<Persistence>,
}

struct Persistence {
    path: PathBuf,
    /// Held for the chain's lifetime: the exclusive lock on `<path>.lock`.
    _lock: File,
}

impl std::fmt::Debug for LiteSvmChain {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LiteSvmChain")
            .field("state_file", &self.state_path())
            .field("accounts", &self.state.accounts.len())
            .field("transactions", &self.state.transactions.len())
            .finish()
    }
}

impl LiteSvmChain {
    /// A fresh chain that lives only in this process.
    pub fn in_memory() -> Self {
        Self {
            svm: LiteSVM::new(),
            state: ChainState::default(),
            persistence: None,
        }
    }

    /// Opens the chain persisted at `path` (created on the first transaction), holding an
    /// exclusive lock on `<path>.lock` until dropped.
    pub fn open(path: &Path) -> Result<Self> {
        let lock_path = sibling(path, ".lock");
        let io = |source| ChainError::StateIo {
            path: lock_path.clone(),
            source,
        };
        let lock = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(io)?;
        match lock.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                let busy = std::io::Error::new(
                    std::io::ErrorKind::WouldBlock,
                    "the embedded chain is open in another process",
                );
                return Err(io(busy));
            }
            Err(TryLockError::Error(source)) => return Err(io(source)),
        }
        let mut state = ChainState::load(path)?;
        let mut svm = LiteSVM::new();
        for (address, account) in &state.accounts {
            svm.set_account(*address, account.clone())
                .map_err(|e| ChainError::Svm(format!("restoring {address}: {e}")))?;
        }
        state.blockhash_generation += 1;
        for _ in 0..state.blockhash_generation {
            svm.expire_blockhash();
        }
        let persistence = Persistence {
            path: path.to_path_buf(),
            _lock: lock,
        };
        let chain = Self {
            svm,
            state,
            persistence: Some(persistence),
        };
        chain.save()?;
        Ok(chain)
    }

    /// Opens `<data_dir>/`[`STATE_FILE_NAME`], creating the directory if needed.
    pub fn open_in(data_dir: &Path) -> Result<Self> {
        std::fs::create_dir_all(data_dir).map_err(|source| ChainError::StateIo {
            path: data_dir.into(),
            source,
        })?;
        Self::open(&data_dir.join(STATE_FILE_NAME))
    }

    /// The state file, `None` for an in-memory chain.
    pub fn state_path(&self) -> Option<&Path> {
        self.persistence.as_ref().map(|p| p.path.as_path())
    }

    /// Gives `address` `lamports` from litesvm's faucet (for fee payers).
    pub fn airdrop(&mut self, address: &Pubkey, lamports: u64) -> Result<()> {
        self.svm
            .airdrop(address, lamports)
            .map_err(|failed| ChainError::Svm(format!("airdrop to {address}: {}", failed.err)))?;
        self.remember_accounts(&[*address]);
        self.save()
    }

    /// Ends the current block: the block height advances by one and the current blockhash
    /// expires (transactions signed against it can no longer land). Persisted.
    pub fn expire_blockhash(&mut self) -> Result<()> {
        self.state.blockhash_generation += 1;
        self.svm.expire_blockhash();
        self.save()
    }

    fn save(&self) -> Result<()> {
        match &self.persistence {
            Some(p) => self.state.save(&p.path),
            None => Ok(()),
        }
    }

    fn remember_accounts(&mut self, addresses: &[Pubkey]) {
        for address in addresses {
            match self.svm.get_account(address) {
                Some(account) if account.executable || account.owner == SYSVAR_OWNER => {}
                Some(account) if account.lamports > 0 => {
                    self.state.accounts.insert(*address, account);
                }
                _ => {
                    self.state.accounts.remove(address);
                }
            }
        }
    }
}

impl Chain for LiteSvmChain {
    fn latest_blockhash(&self) -> Result<Hash> {
        Ok(self.svm.latest_blockhash())
    }

    fn is_blockhash_valid(&self, blockhash: &Hash) -> Result<bool> {
        Ok(*blockhash == self.svm.latest_blockhash())
    }

    fn recent_blockhash(&self) -> Result<RecentBlockhash> {
        Ok(RecentBlockhash {
            hash: self.svm.latest_blockhash(),
            last_valid_block_height: self.state.blockhash_generation,
        })
    }

    fn block_height(&self) -> Result<u64> {
        Ok(self.state.blockhash_generation)
    }

    fn submit(&mut self, transaction: &SignedTransaction) -> Result<Signature> {
        let signature = transaction.signature();
        if self.state.transactions.contains_key(&signature) {
            let reason = "AlreadyProcessed".to_string();
            return Err(ChainError::Rejected { signature, reason });
        }
        let decoded = transaction.transaction()?;
        let writable = writable_accounts(&decoded.message);
        let result = self.svm.send_transaction(decoded);
        let Some(included) = self.svm.get_transaction(&signature) else {
            let reason = result
                .err()
                .map_or_else(|| "not included".into(), |f| format!("{:?}", f.err));
            return Err(ChainError::Rejected { signature, reason });
        };
        let status = match included {
            Ok(_) => TxStatus::Succeeded,
            Err(failed) => TxStatus::Failed(format!("{:?}", failed.err)),
        };
        self.state.transactions.insert(signature, status.clone());
        self.remember_accounts(&writable);
        self.save()?;
        match status {
            TxStatus::Succeeded => Ok(signature),
            TxStatus::Failed(reason) => Err(ChainError::Rejected { signature, reason }),
        }
    }

    fn signature_status(&self, signature: &Signature) -> Result<Option<TxStatus>> {
        Ok(self.state.transactions.get(signature).cloned())
    }

    fn account(&self, address: &Pubkey) -> Result<Option<AccountInfo>> {
        Ok(self.svm.get_account(address).map(|account| AccountInfo {
            lamports: account.lamports,
            owner: account.owner,
            data: account.data,
        }))
    }

    fn minimum_balance_for_rent_exemption(&self, len_bytes: usize) -> Result<u64> {
        Ok(self.svm.minimum_balance_for_rent_exemption(len_bytes))
    }
}

/// The accounts a transaction may write, from its header (programs and sysvars are filtered out
/// later by [`LiteSvmChain::remember_accounts`]).
fn writable_accounts(message: &Message) -> Vec<Pubkey> {
    let header = &message.header;
    let signed = usize::from(header.num_required_signatures);
    let writable_signed = signed.saturating_sub(usize::from(header.num_readonly_signed_accounts));
    let writable_unsigned_end = message
        .account_keys
        .len()
        .saturating_sub(usize::from(header.num_readonly_unsigned_accounts));
    let writable = |i: usize| {
        if i < signed {
            i < writable_signed
        } else {
            i < writable_unsigned_end
        }
    };
    (0..message.account_keys.len())
        .filter(|&i| writable(i))
        .map(|i| message.account_keys[i])
        .collect()
}

fn sibling(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}
