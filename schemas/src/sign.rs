//! The one canonical sign/verify for every signed message.
//!
//! The signed bytes of a message are `DOMAIN || 0x00 || encoding`, where `encoding` is the
//! protobuf encoding of the message with every signature field empty (proto3 omits empty
//! fields, so they contribute no bytes). `DOMAIN` names the message type, so a signature made
//! for one message type can never verify as another whose encoding happens to coincide.
//!
//! # The verification rule: ZIP 215, no small-order keys
//!
//! Signatures are ed25519 (RFC 8032 signing, unchanged) and are verified under
//! [ZIP 215](https://zips.z.cash/zip-0215) through `ed25519-zebra`: `s` must be canonical
//! (`s < l`), `A` and `R` must decode to curve points, and the **cofactored** equation
//! `[8][s]B = [8]R + [8][k]A` must hold, with `k = SHA-512(R_bytes || A_bytes || M)`. On top of
//! ZIP 215 this module refuses signer keys of small order ([`SignError::SmallOrderKey`]): with
//! such a key `[8][k]A` vanishes and anyone could forge.
//!
//! Why this rule: it is the one for which verifying a batch ([`BatchVerifier`], about 2.5x
//! cheaper per signature) and verifying each signature alone agree on **every** input, so a
//! report's fate never depends on which batch it landed in. Under ed25519-dalek's
//! `verify_strict` (the rule before) they do not agree: a signature whose `R` carries a
//! small-order component fails `verify_strict` but can pass the batch equation, depending on
//! the batch's random coefficients.
//!
//! Why it is sound: ZIP 215 accepts every signature `verify_strict` accepts (every honest
//! signature and every stored report stays valid; signing and the golden vectors are
//! unchanged). What it accepts beyond that are signatures whose `R` has a small-order
//! component or a non-canonical encoding, and only the key's holder can make those (the
//! equation still binds `s` to `k` and to the secret behind `A`). A third party cannot
//! malleate an honest signature: `s` must be canonical, and changing `R`'s bytes (adding a
//! torsion point, re-encoding) changes `k = SHA-512(R_bytes || ..)`, so the equation fails.
//! Message ids hash the signature, so even the signer's alternative signatures are distinct
//! messages, as before.

use crate::keys::{Keypair, PublicKey, SIGNATURE_LEN};
use crate::proto::{
    BeaconReport, Entropy, LocationAssertion, ManifestApproval, MediumHello, WitnessReport,
};
use ed25519_zebra::{Signature, VerificationKey, VerificationKeyBytes};
use prost::Message;
use sha2::{Digest, Sha256};

mod batch;
mod small_order;

pub use batch::{BatchResults, BatchVerifier, KeyCache};
pub use small_order::is_small_order_key;

/// Why a signature did not verify.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignError {
    #[error("signer key is not a valid ed25519 public key ({0} bytes)")]
    BadKey(usize),
    #[error("signer key is a point of small order (anyone could sign for it)")]
    SmallOrderKey,
    #[error("signature must be {SIGNATURE_LEN} bytes, got {0}")]
    BadLength(usize),
    #[error("signature does not verify")]
    Mismatch,
}

/// A message with one or more signature fields.
pub trait Signable: Message + Clone {
    /// Domain-separation tag, unique per message type.
    const DOMAIN: &'static str;
    /// Empties every signature field.
    fn clear_signatures(&mut self);
}

/// A message signed by exactly one key that it names itself.
pub trait SingleSigned: Signable {
    /// The key that must have signed.
    fn signer(&self) -> &[u8];
    /// Sets the signer key field.
    fn set_signer(&mut self, key: Vec<u8>);
    /// The signature field.
    fn signature(&self) -> &[u8];
    /// Sets the signature field.
    fn set_signature(&mut self, signature: Vec<u8>);

    /// Sets the signer to `key`'s public key and signs.
    fn sign_with(&mut self, key: &Keypair) {
        self.set_signer(key.public().to_vec());
        let signature = key.sign(&signing_bytes(self));
        self.set_signature(signature.to_vec());
    }

    /// Verifies the signature against the signer field; returns the signer.
    fn verify(&self) -> Result<PublicKey, SignError> {
        let signer = PublicKey::from_slice(self.signer())
            .map_err(|_| SignError::BadKey(self.signer().len()))?;
        verify_signature(&signer, self.signature(), &signing_bytes(self))?;
        Ok(signer)
    }
}

/// The bytes a signature covers.
pub fn signing_bytes<M: Signable>(message: &M) -> Vec<u8> {
    let mut cleared = message.clone();
    cleared.clear_signatures();
    let mut out = Vec::with_capacity(M::DOMAIN.len() + 1 + cleared.encoded_len());
    out.extend_from_slice(M::DOMAIN.as_bytes());
    out.push(0);
    cleared.encode(&mut out).unwrap_or_default();
    out
}

/// Verifies `signature` by `signer` over `bytes` (ZIP 215, small-order keys refused; see the
/// module docs). [`BatchVerifier`] gives the same result for every input.
pub fn verify_signature(
    signer: &PublicKey,
    signature: &[u8],
    bytes: &[u8],
) -> Result<(), SignError> {
    let (key, signature) = prepare(signer.as_bytes(), signature)?;
    let key = VerificationKey::try_from(key).map_err(|_| SignError::BadKey(32))?;
    key.verify(&signature, bytes)
        .map_err(|_| SignError::Mismatch)
}

/// The checks both paths make before any curve arithmetic: key and signature lengths, and
/// small-order keys (a comparison of bytes, see `small_order.rs`).
fn prepare(
    signer: &[u8],
    signature: &[u8],
) -> Result<(VerificationKeyBytes, Signature), SignError> {
    let key: [u8; 32] = signer
        .try_into()
        .map_err(|_| SignError::BadKey(signer.len()))?;
    if is_small_order_key(&key) {
        return Err(SignError::SmallOrderKey);
    }
    let sig: [u8; SIGNATURE_LEN] = signature
        .try_into()
        .map_err(|_| SignError::BadLength(signature.len()))?;
    Ok((VerificationKeyBytes::from(key), Signature::from_bytes(&sig)))
}

/// The id of a message: SHA-256 of its canonical encoding (signatures included). Two
/// submissions with the same id are the same message.
pub fn message_id<M: Message>(message: &M) -> [u8; 32] {
    Sha256::digest(message.encode_to_vec()).into()
}

/// The canonical encoding of a message and its id ([`message_id`]) from one encoding.
pub fn encode_with_id<M: Message>(message: &M) -> (Vec<u8>, [u8; 32]) {
    let bytes = message.encode_to_vec();
    let id = Sha256::digest(&bytes).into();
    (bytes, id)
}

macro_rules! single_signed {
    ($ty:ty, $domain:literal, $key:ident) => {
        impl Signable for $ty {
            const DOMAIN: &'static str = $domain;
            fn clear_signatures(&mut self) {
                self.signature.clear();
            }
        }
        impl SingleSigned for $ty {
            fn signer(&self) -> &[u8] {
                &self.$key
            }
            fn set_signer(&mut self, key: Vec<u8>) {
                self.$key = key;
            }
            fn signature(&self) -> &[u8] {
                &self.signature
            }
            fn set_signature(&mut self, signature: Vec<u8>) {
                self.signature = signature;
            }
        }
    };
}

single_signed!(BeaconReport, "coverage-proof/v1/BeaconReport", hotspot_key);
single_signed!(
    WitnessReport,
    "coverage-proof/v1/WitnessReport",
    hotspot_key
);
single_signed!(Entropy, "coverage-proof/v1/Entropy", oracle_key);
single_signed!(MediumHello, "coverage-proof/v1/MediumHello", hotspot_key);
single_signed!(
    ManifestApproval,
    "coverage-proof/v1/ManifestApproval",
    signer_key
);

impl Signable for LocationAssertion {
    const DOMAIN: &'static str = "coverage-proof/v1/LocationAssertion";
    fn clear_signatures(&mut self) {
        self.hotspot_signature.clear();
        self.owner_signature.clear();
    }
}

/// Which key of a [`LocationAssertion`] failed to verify.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AssertionSignError {
    #[error("hotspot signature: {0}")]
    Hotspot(SignError),
    #[error("owner signature: {0}")]
    Owner(SignError),
}

impl LocationAssertion {
    /// An assertion with both keys set and signed by both.
    pub fn new_signed(
        hotspot: &Keypair,
        owner: &Keypair,
        location: u64,
        gain_ddbi: i32,
        elevation_m: i32,
        timestamp_ms: u64,
    ) -> Self {
        let mut assertion = Self {
            hotspot_key: hotspot.public().to_vec(),
            owner_key: owner.public().to_vec(),
            location,
            gain_ddbi,
            elevation_m,
            timestamp_ms,
            ..Default::default()
        };
        assertion.sign_as_hotspot(hotspot);
        assertion.sign_as_owner(owner);
        assertion
    }

    /// Adds the hotspot's signature. Both key fields and the content must already be set;
    /// the owner may sign before or after (on another machine).
    pub fn sign_as_hotspot(&mut self, key: &Keypair) {
        self.hotspot_signature = key.sign(&signing_bytes(self)).to_vec();
    }

    /// Adds the owner's signature. Both key fields and the content must already be set.
    pub fn sign_as_owner(&mut self, key: &Keypair) {
        self.owner_signature = key.sign(&signing_bytes(self)).to_vec();
    }

    /// Verifies both signatures; returns (hotspot, owner).
    pub fn verify(&self) -> Result<(PublicKey, PublicKey), AssertionSignError> {
        let bytes = signing_bytes(self);
        let check = |key: &[u8], sig: &[u8]| -> Result<PublicKey, SignError> {
            let key = PublicKey::from_slice(key).map_err(|_| SignError::BadKey(key.len()))?;
            verify_signature(&key, sig, &bytes)?;
            Ok(key)
        };
        let hotspot = check(&self.hotspot_key, &self.hotspot_signature)
            .map_err(AssertionSignError::Hotspot)?;
        let owner =
            check(&self.owner_key, &self.owner_signature).map_err(AssertionSignError::Owner)?;
        Ok((hotspot, owner))
    }
}

#[cfg(test)]
mod tests_zip215;

#[cfg(test)]
mod tests {
    use super::*;

    fn witness() -> WitnessReport {
        WitnessReport {
            data: vec![1; 51],
            timestamp_ms: 5,
            signal_ddbm: -1000,
            snr_ddb: 55,
            frequency_hz: 904_100_000,
            ..Default::default()
        }
    }

    #[test]
    fn sign_then_verify_and_tamper() {
        let key = Keypair::from_seed([1; 32]);
        let mut w = witness();
        w.sign_with(&key);
        assert_eq!(w.verify(), Ok(key.public()));
        let mut tampered = w.clone();
        tampered.signal_ddbm += 1;
        assert_eq!(tampered.verify(), Err(SignError::Mismatch));
        let mut other_key = w.clone();
        other_key.hotspot_key = Keypair::from_seed([2; 32]).public().to_vec();
        assert_eq!(other_key.verify(), Err(SignError::Mismatch));
        let mut short = w.clone();
        short.signature.truncate(10);
        assert_eq!(short.verify(), Err(SignError::BadLength(10)));
        let mut no_key = w;
        no_key.hotspot_key.clear();
        assert_eq!(no_key.verify(), Err(SignError::BadKey(0)));
    }

    #[test]
    fn domain_separates_message_types() {
        let key = Keypair::from_seed([3; 32]);
        let mut w = WitnessReport::default();
        w.sign_with(&key);
        // A beacon report with the same (empty) content and the witness's signature must fail.
        let b = BeaconReport {
            hotspot_key: w.hotspot_key.clone(),
            signature: w.signature.clone(),
            ..Default::default()
        };
        assert_eq!(b.verify(), Err(SignError::Mismatch));
    }

    #[test]
    fn assertion_needs_both_signatures() {
        let hotspot = Keypair::from_seed([4; 32]);
        let owner = Keypair::from_seed([5; 32]);
        let mut a = LocationAssertion {
            location: 0x8c2a1072b59a5ff,
            gain_ddbi: 30,
            elevation_m: 5,
            timestamp_ms: 1,
            ..Default::default()
        };
        a.hotspot_key = hotspot.public().to_vec();
        a.owner_key = owner.public().to_vec();
        a.sign_as_hotspot(&hotspot);
        a.sign_as_owner(&owner);
        assert_eq!(a.verify(), Ok((hotspot.public(), owner.public())));
        let mut forged = a.clone();
        forged.owner_signature = hotspot.sign(&signing_bytes(&forged)).to_vec();
        assert!(matches!(
            forged.verify(),
            Err(AssertionSignError::Owner(SignError::Mismatch))
        ));
        let mut moved = a;
        moved.location += 1;
        assert!(matches!(
            moved.verify(),
            Err(AssertionSignError::Hotspot(SignError::Mismatch))
        ));
    }

    #[test]
    fn message_id_changes_with_any_field() {
        let a = witness();
        let mut b = witness();
        assert_eq!(message_id(&a), message_id(&b));
        b.tmst = 1;
        assert_ne!(message_id(&a), message_id(&b));
    }
}
