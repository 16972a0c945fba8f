//! The embedded chain's state file: the accounts its transactions wrote and the statuses of the
//! transactions it processed, as JSON. Written atomically (temporary file, fsync, rename).

use crate::chain::error::{ChainError, Result};
use crate::chain::{Pubkey, Signature, TxStatus};
use serde::{Deserialize, Serialize};
use solana_account::Account;
use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

/// Version of the file layout; a file of another version is refused.
const FORMAT: u32 = 1;

/// Everything persisted between processes.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(super) struct ChainState {
    /// How many processes opened this chain before; each one starts on a new blockhash.
    pub blockhash_generation: u64,
    /// Accounts written by processed transactions (programs and sysvars excluded).
    pub accounts: BTreeMap<Pubkey, Account>,
    /// Every transaction the chain included, with its outcome.
    pub transactions: BTreeMap<Signature, TxStatus>,
}

#[derive(Serialize, Deserialize)]
struct StateFile {
    format: u32,
    blockhash_generation: u64,
    accounts: BTreeMap<String, StoredAccount>,
    transactions: BTreeMap<String, StoredStatus>,
}

#[derive(Serialize, Deserialize)]
struct StoredAccount {
    lamports: u64,
    owner: String,
    executable: bool,
    rent_epoch: u64,
    data_hex: String,
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum StoredStatus {
    Succeeded,
    Failed(String),
}

impl ChainState {
    /// Reads `path`; a missing file is an empty chain.
    pub fn load(path: &Path) -> Result<Self> {
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Self::default()),
            Err(source) => {
                return Err(ChainError::StateIo {
                    path: path.into(),
                    source,
                });
            }
        };
        let corrupt = |detail: String| ChainError::StateCorrupt {
            path: path.into(),
            detail,
        };
        let file: StateFile = serde_json::from_str(&text).map_err(|e| corrupt(e.to_string()))?;
        if file.format != FORMAT {
            return Err(corrupt(format!(
                "format {} (expected {FORMAT})",
                file.format
            )));
        }
        let mut state = Self {
            blockhash_generation: file.blockhash_generation,
            ..Self::default()
        };
        for (address, stored) in file.accounts {
            let address: Pubkey = address
                .parse()
                .map_err(|_| corrupt(format!("address {address}")))?;
            let owner = stored
                .owner
                .parse()
                .map_err(|_| corrupt(format!("owner of {address}")))?;
            let data =
                hex::decode(&stored.data_hex).map_err(|_| corrupt(format!("data of {address}")))?;
            let account = Account {
                lamports: stored.lamports,
                data,
                owner,
                executable: stored.executable,
                rent_epoch: stored.rent_epoch,
            };
            state.accounts.insert(address, account);
        }
        for (signature, status) in file.transactions {
            let parsed: Signature = signature
                .parse()
                .map_err(|_| corrupt(format!("signature {signature}")))?;
            let status = match status {
                StoredStatus::Succeeded => TxStatus::Succeeded,
                StoredStatus::Failed(reason) => TxStatus::Failed(reason),
            };
            state.transactions.insert(parsed, status);
        }
        Ok(state)
    }

    /// Writes the state to `path` atomically.
    pub fn save(&self, path: &Path) -> Result<()> {
        let file = StateFile {
            format: FORMAT,
            blockhash_generation: self.blockhash_generation,
            accounts: self
                .accounts
                .iter()
                .map(|(address, account)| {
                    let stored = StoredAccount {
                        lamports: account.lamports,
                        owner: account.owner.to_string(),
                        executable: account.executable,
                        rent_epoch: account.rent_epoch,
                        data_hex: hex::encode(&account.data),
                    };
                    (address.to_string(), stored)
                })
                .collect(),
            transactions: self
                .transactions
                .iter()
                .map(|(signature, status)| {
                    let stored = match status {
                        TxStatus::Succeeded => StoredStatus::Succeeded,
                        TxStatus::Failed(reason) => StoredStatus::Failed(reason.clone()),
                    };
                    (signature.to_string(), stored)
                })
                .collect(),
        };
        let json = serde_json::to_vec_pretty(&file).map_err(|e| ChainError::StateCorrupt {
            path: path.into(),
            detail: e.to_string(),
        })?;
        write_atomically(path, &json)
    }
}

fn write_atomically(path: &Path, bytes: &[u8]) -> Result<()> {
    let io = |source| ChainError::StateIo {
        path: path.into(),
        source,
    };
    let mut tmp = PathBuf::from(path);
    tmp.as_mut_os_string().push(".tmp");
    let mut file = std::fs::File::create(&tmp).map_err(io)?;
    file.write_all(bytes).map_err(io)?;
    file.sync_all().map_err(io)?;
    std::fs::rename(&tmp, path).map_err(io)?;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        // Make the rename itself durable.
        std::fs::File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(io)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_missing_is_empty() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("chain-state.json");
        assert_eq!(
            ChainState::load(&path).expect("missing"),
            ChainState::default()
        );
        let mut state = ChainState {
            blockhash_generation: 3,
            ..ChainState::default()
        };
        let account = Account {
            lamports: 5,
            data: vec![1, 2, 3],
            owner: Pubkey::new_unique(),
            executable: false,
            rent_epoch: u64::MAX,
        };
        state.accounts.insert(Pubkey::new_unique(), account);
        state
            .transactions
            .insert(Signature::from([7; 64]), TxStatus::Succeeded);
        state.transactions.insert(
            Signature::from([8; 64]),
            TxStatus::Failed("Custom(4)".into()),
        );
        state.save(&path).expect("save");
        assert_eq!(ChainState::load(&path).expect("load"), state);
        std::fs::write(&path, "{").expect("write");
        assert!(matches!(
            ChainState::load(&path),
            Err(ChainError::StateCorrupt { .. })
        ));
    }
}
