//! Proposal files and their signature sidecars.
//!
//! A proposal is a parameter-set TOML file. Its signatures live beside it in
//! `PROPOSAL.sigs.json` (for `PROPOSAL.toml`), which names what they approve (version,
//! effective epoch, parameter hash) so a signature file can never be applied to another or an
//! edited proposal:
//!
//! ```json
//! {
//!   "version": 2,
//!   "effective_epoch": 20500,
//!   "parameters_hash": "<hex SHA-256 of the canonical set>",
//!   "signatures": [{ "key": "<base58 governance key>", "signature": "<hex ed25519>" }]
//! }
//! ```
//!
//! Members sign offline and hand the file around (or each sends a one-entry file and the
//! operator merges them: signatures are independent and order does not matter).

use super::GovernanceError;
use schemas::governance;
use schemas::parameters::ParameterSet;
use schemas::proto::{GovernanceSignature, ParameterProposal};
use schemas::{Keypair, PublicKey};
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use std::io::Write;
use std::path::{Path, PathBuf};

/// A parameter set read from a proposal file.
#[derive(Debug, Clone, PartialEq)]
pub struct Proposal {
    /// The parsed, validated set.
    pub set: ParameterSet,
    /// The file's text as written (stored verbatim when applied, comments included).
    pub text: String,
}

impl Proposal {
    /// Reads and validates `path`.
    pub fn read(path: &Path) -> Result<Self, GovernanceError> {
        let text = std::fs::read_to_string(path).map_err(|source| GovernanceError::Io {
            path: path.display().to_string(),
            source,
        })?;
        Self::parse(text, path)
    }

    /// Parses proposal text (`path` only names it in errors).
    pub fn parse(text: String, path: &Path) -> Result<Self, GovernanceError> {
        let set = ParameterSet::from_toml(&text).map_err(|source| GovernanceError::Parameters {
            path: path.display().to_string(),
            source,
        })?;
        Ok(Self { set, text })
    }

    /// What governance keys sign.
    pub fn message(&self) -> ParameterProposal {
        ParameterProposal::for_set(&self.set)
    }
}

/// The signatures over one proposal (the sidecar file).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignatureFile {
    /// The approved version.
    pub version: u64,
    /// The approved effective epoch.
    pub effective_epoch: u64,
    /// The approved parameter hash (hex).
    pub parameters_hash: String,
    /// One entry per signer.
    pub signatures: Vec<SignatureEntry>,
}

/// One governance member's signature.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignatureEntry {
    /// The signer's public key (base58).
    pub key: PublicKey,
    /// ed25519 signature over the domain-separated [`ParameterProposal`] (hex).
    pub signature: String,
}

/// The sidecar path of a proposal: `X.toml` -> `X.sigs.json` (other names get `.sigs.json`
/// appended).
pub fn sidecar_path(proposal: &Path) -> PathBuf {
    let name = proposal
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let stem = name.strip_suffix(".toml").unwrap_or(&name);
    proposal.with_file_name(format!("{stem}.sigs.json"))
}

impl SignatureFile {
    /// An empty file for `proposal`.
    pub fn new(proposal: &Proposal) -> Self {
        Self {
            version: proposal.set.version,
            effective_epoch: proposal.set.effective_epoch,
            parameters_hash: hex::encode(proposal.set.hash()),
            signatures: Vec::new(),
        }
    }

    /// Reads `path`; `Ok(None)` when it does not exist.
    pub fn read(path: &Path) -> Result<Option<Self>, GovernanceError> {
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(source) => {
                return Err(GovernanceError::Io {
                    path: path.display().to_string(),
                    source,
                });
            }
        };
        serde_json::from_str(&text)
            .map(Some)
            .map_err(|e| GovernanceError::SignatureFile {
                path: path.display().to_string(),
                reason: e.to_string(),
            })
    }

    /// Reads the signatures of `proposal` from `path` (none when the file does not exist) and
    /// checks that they approve exactly this proposal.
    pub fn read_for(path: &Path, proposal: &Proposal) -> Result<Self, GovernanceError> {
        let file = Self::read(path)?.unwrap_or_else(|| Self::new(proposal));
        file.ensure_matches(path, proposal)?;
        Ok(file)
    }

    /// Errors unless this file approves `proposal` (same version, epoch and hash).
    pub fn ensure_matches(&self, path: &Path, proposal: &Proposal) -> Result<(), GovernanceError> {
        let expected = Self::new(proposal);
        if (self.version, self.effective_epoch, &self.parameters_hash)
            != (
                expected.version,
                expected.effective_epoch,
                &expected.parameters_hash,
            )
        {
            return Err(GovernanceError::SidecarMismatch {
                path: path.display().to_string(),
                signed_version: self.version,
                signed_epoch: self.effective_epoch,
                signed_hash: self.parameters_hash.clone(),
                version: expected.version,
                epoch: expected.effective_epoch,
                hash: expected.parameters_hash,
            });
        }
        Ok(())
    }

    /// Adds `key`'s signature over `proposal` (replacing an earlier one by the same key).
    pub fn sign(&mut self, proposal: &Proposal, key: &Keypair) {
        let signature = governance::sign(&proposal.message(), key);
        let entry = SignatureEntry {
            key: key.public(),
            signature: hex::encode(&signature.signature),
        };
        self.signatures.retain(|s| s.key != entry.key);
        self.signatures.push(entry);
        self.signatures.sort_by_key(|s| s.key.to_string());
    }

    /// Adds `other`'s entries (both must approve the same proposal: check with
    /// [`Self::ensure_matches`] first); an entry for a key already present replaces it.
    pub fn merge(&mut self, other: SignatureFile) {
        for entry in other.signatures {
            self.signatures.retain(|s| s.key != entry.key);
            self.signatures.push(entry);
        }
        self.signatures.sort_by_key(|s| s.key.to_string());
    }

    /// The entries as protobuf signatures (entries whose hex does not decode are skipped: they
    /// could not verify anyway).
    pub fn governance_signatures(&self) -> Vec<GovernanceSignature> {
        self.signatures
            .iter()
            .filter_map(|s| {
                hex::decode(&s.signature)
                    .ok()
                    .map(|signature| GovernanceSignature {
                        key: s.key.to_vec(),
                        signature,
                    })
            })
            .collect()
    }

    /// Checks the M-of-N signatures over `proposal`; returns the distinct governance keys with
    /// a valid signature (at least `threshold` of them).
    pub fn verify(
        &self,
        proposal: &Proposal,
        keys: &[PublicKey],
        threshold: usize,
    ) -> Result<BTreeSet<PublicKey>, GovernanceError> {
        if keys.is_empty() {
            return Err(GovernanceError::NotConfigured(
                "no governance keys are configured".into(),
            ));
        }
        if threshold == 0 || threshold > keys.len() {
            return Err(GovernanceError::NotConfigured(format!(
                "threshold {threshold} with {} key(s)",
                keys.len()
            )));
        }
        governance::verify_threshold(
            &proposal.message(),
            &self.governance_signatures(),
            keys,
            threshold,
        )
        .map_err(|e| match e {
            governance::GovernanceError::TooFewSignatures { valid, threshold } => {
                GovernanceError::TooFewSignatures { valid, threshold }
            }
            other => GovernanceError::NotConfigured(other.to_string()),
        })
    }

    /// Writes the file atomically (temporary file, fsync, rename).
    pub fn write(&self, path: &Path) -> Result<(), GovernanceError> {
        let io = |source| GovernanceError::Io {
            path: path.display().to_string(),
            source,
        };
        let mut text = serde_json::to_string_pretty(self).map_err(|e| GovernanceError::Io {
            path: path.display().to_string(),
            source: std::io::Error::other(e),
        })?;
        text.push('\n');
        let tmp = path.with_extension("json.tmp");
        let mut file = std::fs::File::create(&tmp).map_err(io)?;
        file.write_all(text.as_bytes()).map_err(io)?;
        file.sync_all().map_err(io)?;
        std::fs::rename(&tmp, path).map_err(io)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn proposal() -> Proposal {
        let set = ParameterSet {
            version: 2,
            effective_epoch: 50,
            ..ParameterSet::default()
        };
        Proposal {
            text: set.to_toml(),
            set,
        }
    }

    #[test]
    fn sidecar_names() {
        assert_eq!(
            sidecar_path(Path::new("a/raise.toml")),
            PathBuf::from("a/raise.sigs.json")
        );
        assert_eq!(
            sidecar_path(Path::new("raise")),
            PathBuf::from("raise.sigs.json")
        );
    }

    #[test]
    fn signatures_count_once_per_governance_key() {
        let keys: Vec<Keypair> = (1..=3).map(|i| Keypair::from_seed([i; 32])).collect();
        let public: Vec<PublicKey> = keys.iter().map(Keypair::public).collect();
        let proposal = proposal();
        let mut file = SignatureFile::new(&proposal);
        file.sign(&proposal, &keys[0]);
        file.sign(&proposal, &keys[0]);
        assert_eq!(file.signatures.len(), 1);
        assert!(matches!(
            file.verify(&proposal, &public, 2),
            Err(GovernanceError::TooFewSignatures {
                valid: 1,
                threshold: 2
            })
        ));
        let mut other = SignatureFile::new(&proposal);
        other.sign(&proposal, &keys[2]);
        file.merge(other.clone());
        file.merge(other);
        assert_eq!(file.signatures.len(), 2, "merging twice adds nothing");
        let signers = file.verify(&proposal, &public, 2).expect("2 of 3");
        assert_eq!(signers, BTreeSet::from([public[0], public[2]]));
        assert!(matches!(
            file.verify(&proposal, &[], 1),
            Err(GovernanceError::NotConfigured(_))
        ));
        assert!(matches!(
            file.verify(&proposal, &public, 4),
            Err(GovernanceError::NotConfigured(_))
        ));
    }

    #[test]
    fn round_trips_and_refuses_another_proposal() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("p.sigs.json");
        let proposal = proposal();
        let mut file = SignatureFile::read_for(&path, &proposal).expect("no file yet");
        file.sign(&proposal, &Keypair::from_seed([1; 32]));
        file.write(&path).expect("write");
        assert_eq!(
            SignatureFile::read_for(&path, &proposal).expect("read"),
            file
        );
        let mut edited = proposal.clone();
        edited.set.split.beacon_bps += 1;
        assert!(matches!(
            SignatureFile::read_for(&path, &edited),
            Err(GovernanceError::SidecarMismatch { .. })
        ));
        std::fs::write(&path, "{").expect("write");
        assert!(matches!(
            SignatureFile::read(&path),
            Err(GovernanceError::SignatureFile { .. })
        ));
    }
}
