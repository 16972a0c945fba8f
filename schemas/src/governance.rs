//! M-of-N governance signatures over a message: denylists and parameter changes.

use crate::keys::{Keypair, PublicKey};
use crate::parameters::ParameterSet;
use crate::proto::{Denylist, GovernanceSignature, ParameterProposal, SignedDenylist};
use crate::sign::{Signable, signing_bytes, verify_signature};
use std::collections::BTreeSet;

impl Signable for Denylist {
    const DOMAIN: &'static str = "coverage-proof/v1/Denylist";
    fn clear_signatures(&mut self) {}
}

impl Signable for ParameterProposal {
    const DOMAIN: &'static str = "coverage-proof/v1/ParameterProposal";
    fn clear_signatures(&mut self) {}
}

impl ParameterProposal {
    /// The message governance keys sign to approve `set`.
    pub fn for_set(set: &ParameterSet) -> Self {
        Self {
            version: set.version,
            effective_epoch: set.effective_epoch,
            parameters_hash: set.hash().to_vec(),
        }
    }
}

/// Why a governance-signed message was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GovernanceError {
    #[error("no governance keys are configured")]
    NoSigners,
    #[error("{valid} valid signature(s) from governance keys; {threshold} required")]
    TooFewSignatures { valid: usize, threshold: usize },
    #[error("the message is missing")]
    Missing,
}

/// Signs `message` with `key` and returns the signature entry.
pub fn sign<M: Signable>(message: &M, key: &Keypair) -> GovernanceSignature {
    GovernanceSignature {
        key: key.public().to_vec(),
        signature: key.sign(&signing_bytes(message)).to_vec(),
    }
}

/// The distinct members of `signers` with a valid signature over `message`; errors unless at
/// least `threshold` of them signed. Signatures by other keys are ignored.
pub fn verify_threshold<M: Signable>(
    message: &M,
    signatures: &[GovernanceSignature],
    signers: &[PublicKey],
    threshold: usize,
) -> Result<BTreeSet<PublicKey>, GovernanceError> {
    if signers.is_empty() || threshold == 0 {
        return Err(GovernanceError::NoSigners);
    }
    let bytes = signing_bytes(message);
    let valid: BTreeSet<PublicKey> = signatures
        .iter()
        .filter_map(|s| PublicKey::from_slice(&s.key).ok().map(|k| (k, s)))
        .filter(|(k, _)| signers.contains(k))
        .filter(|(k, s)| verify_signature(k, &s.signature, &bytes).is_ok())
        .map(|(k, _)| k)
        .collect();
    if valid.len() < threshold {
        return Err(GovernanceError::TooFewSignatures {
            valid: valid.len(),
            threshold,
        });
    }
    Ok(valid)
}

impl SignedDenylist {
    /// Adds (or replaces) `key`'s signature.
    pub fn add_signature(&mut self, key: &Keypair) -> Result<(), GovernanceError> {
        let list = self.list.as_ref().ok_or(GovernanceError::Missing)?;
        let signature = sign(list, key);
        self.signatures.retain(|s| s.key != signature.key);
        self.signatures.push(signature);
        Ok(())
    }

    /// Checks the M-of-N signatures; returns the list and who signed it.
    pub fn verify(
        &self,
        signers: &[PublicKey],
        threshold: usize,
    ) -> Result<(&Denylist, BTreeSet<PublicKey>), GovernanceError> {
        let list = self.list.as_ref().ok_or(GovernanceError::Missing)?;
        Ok((
            list,
            verify_threshold(list, &self.signatures, signers, threshold)?,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::DenylistEntry;

    #[test]
    fn m_of_n_signatures() {
        let keys: Vec<Keypair> = (1..=3).map(|i| Keypair::from_seed([i; 32])).collect();
        let signers: Vec<PublicKey> = keys.iter().map(Keypair::public).collect();
        let entry = DenylistEntry {
            key: vec![9; 32],
            reason: "spoofing".into(),
            expires_ms: 10,
            ..Default::default()
        };
        let mut signed = SignedDenylist {
            list: Some(Denylist {
                version: 1,
                issued_ms: 1,
                entries: vec![entry],
            }),
            signatures: vec![],
        };
        signed.add_signature(&keys[0]).expect("sign");
        assert_eq!(
            signed.verify(&signers, 2),
            Err(GovernanceError::TooFewSignatures {
                valid: 1,
                threshold: 2
            })
        );
        signed.add_signature(&keys[0]).expect("sign again");
        assert_eq!(signed.signatures.len(), 1, "a key signs once");
        signed
            .add_signature(&Keypair::from_seed([7; 32]))
            .expect("outsider");
        assert!(
            signed.verify(&signers, 2).is_err(),
            "an outsider's signature does not count"
        );
        signed.add_signature(&keys[2]).expect("sign");
        let (_, who) = signed.verify(&signers, 2).expect("2 of 3");
        assert_eq!(who.len(), 2);
        if let Some(list) = signed.list.as_mut() {
            list.entries[0].reason = "tampered".into();
        }
        assert!(
            signed.verify(&signers, 1).is_err(),
            "any change voids every signature"
        );
        assert_eq!(
            verify_threshold(&Denylist::default(), &[], &[], 1),
            Err(GovernanceError::NoSigners)
        );
    }

    #[test]
    fn a_proposal_signature_covers_version_epoch_and_contents() {
        let key = Keypair::from_seed([1; 32]);
        let signers = [key.public()];
        let set = ParameterSet {
            version: 2,
            effective_epoch: 30,
            ..ParameterSet::default()
        };
        let proposal = ParameterProposal::for_set(&set);
        assert_eq!(proposal.parameters_hash, set.hash().to_vec());
        let signature = sign(&proposal, &key);
        assert!(verify_threshold(&proposal, std::slice::from_ref(&signature), &signers, 1).is_ok());
        let mut later = set.clone();
        later.effective_epoch = 31;
        let mut changed = set.clone();
        changed.split.witness_bps += 1;
        for other in [later, changed] {
            assert!(
                verify_threshold(
                    &ParameterProposal::for_set(&other),
                    std::slice::from_ref(&signature),
                    &signers,
                    1
                )
                .is_err()
            );
        }
        // Domain separation: the same key's signature over a denylist is not an approval.
        let denylist = sign(&Denylist::default(), &key);
        assert!(verify_threshold(&proposal, &[denylist], &signers, 1).is_err());
    }
}
