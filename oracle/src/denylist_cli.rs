//! `oracle denylist`: build and sign a governance denylist, and apply a signed one.
//!
//! A list is written as TOML, signed by governance keys (each runs `sign`, adding its
//! signature to the same file), and applied by the oracle operator, who checks the M-of-N
//! signatures against the governance keys in the oracle's settings.
//!
//! ```toml
//! version = 3                       # must grow with every list
//! [[entries]]
//! key = "<base58 hotspot key>"      # a denied hotspot ...
//! reason = "asserted 40 km from where its beacons are heard"
//! expires = "2027-01-01T00:00:00Z"
//! [[entries]]
//! edge = ["<base58>", "<base58>"]   # ... or a denied beaconer-witness pair
//! reason = "witness each other only, at impossible RSSI"
//! expires = "2027-01-01T00:00:00Z"
//! ```

use crate::store::{Store, StoreError};
use prost::Message;
use schemas::PublicKey;
use schemas::proto::{Denylist, DenylistEntry, SignedDenylist};
use serde::Deserialize;

/// Errors of the denylist commands.
#[derive(Debug, thiserror::Error)]
pub enum DenylistError {
    #[error("denylist TOML: {0}")]
    Toml(#[from] toml::de::Error),
    #[error("entry {index}: {reason}")]
    Entry { index: usize, reason: String },
    #[error("not a signed denylist: {0}")]
    Decode(#[from] prost::DecodeError),
    #[error(transparent)]
    Governance(#[from] schemas::governance::GovernanceError),
    #[error("list version {version} is not newer than the applied version {applied}")]
    Stale { version: u64, applied: u64 },
    #[error(transparent)]
    Store(#[from] StoreError),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ListToml {
    version: u64,
    #[serde(default)]
    entries: Vec<EntryToml>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EntryToml {
    key: Option<PublicKey>,
    edge: Option<[PublicKey; 2]>,
    reason: String,
    expires: String,
}

/// Builds an unsigned list from its TOML form.
pub fn from_toml(text: &str, issued_ms: u64) -> Result<SignedDenylist, DenylistError> {
    let list: ListToml = toml::from_str(text)?;
    let entries = list
        .entries
        .into_iter()
        .enumerate()
        .map(|(index, e)| {
            let fail = |reason: String| DenylistError::Entry { index, reason };
            let expires = humantime::parse_rfc3339(&e.expires)
                .map_err(|err| fail(format!("expires {:?}: {err}", e.expires)))?;
            let expires_ms = expires
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_millis() as u64);
            let (key, other_key) = match (e.key, e.edge) {
                (Some(key), None) => (key.to_vec(), Vec::new()),
                (None, Some([a, b])) if a != b => (a.to_vec(), b.to_vec()),
                (None, Some(_)) => return Err(fail("an edge needs two different keys".into())),
                _ => return Err(fail("give exactly one of `key` or `edge`".into())),
            };
            if e.reason.trim().is_empty() {
                return Err(fail("every entry needs a reason".into()));
            }
            Ok(DenylistEntry {
                key,
                other_key,
                reason: e.reason,
                expires_ms,
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(SignedDenylist {
        list: Some(Denylist {
            version: list.version,
            issued_ms,
            entries,
        }),
        signatures: vec![],
    })
}

/// Decodes a signed list file.
pub fn decode(bytes: &[u8]) -> Result<SignedDenylist, DenylistError> {
    Ok(SignedDenylist::decode(bytes)?)
}

/// Verifies the M-of-N signatures and stores every entry, applying from `now_ms`. Returns the
/// number of entries.
pub async fn apply(
    store: &Store,
    signed: &SignedDenylist,
    signers: &[PublicKey],
    threshold: usize,
    now_ms: u64,
) -> Result<usize, DenylistError> {
    let (list, _) = signed.verify(signers, threshold)?;
    let applied = store.denylist_version().await?;
    if applied.is_some_and(|applied| list.version <= applied) {
        return Err(DenylistError::Stale {
            version: list.version,
            applied: applied.unwrap_or(0),
        });
    }
    for (index, entry) in list.entries.iter().enumerate() {
        let bad = |reason: &str| DenylistError::Entry {
            index,
            reason: reason.to_string(),
        };
        PublicKey::from_slice(&entry.key).map_err(|_| bad("key is not 32 bytes"))?;
        if !entry.other_key.is_empty() {
            PublicKey::from_slice(&entry.other_key)
                .map_err(|_| bad("other_key is not 32 bytes"))?;
        }
    }
    store.save_denylist(list, now_ms).await?;
    Ok(list.entries.len())
}
