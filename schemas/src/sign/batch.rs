//! Batch verification under the same rule as [`super::verify_signature`].
//!
//! Queue signatures, then [`BatchVerifier::verify`] checks them all with one multiscalar
//! multiplication (ZIP 215's cofactored batch equation, random 128-bit coefficients from the
//! operating system). When the batch equation fails, every signature is checked alone, so each
//! bad one is identified exactly and the result of every item is the one
//! [`super::verify_signature`] gives for it.

use super::{SignError, SingleSigned, prepare, signing_bytes};
use ed25519_zebra::batch::{Item, Verifier};
use rand_core::{Infallible, TryCryptoRng, TryRng};
use sha2::{Digest, Sha512};

/// Signatures queued for one batch check.
#[derive(Default)]
pub struct BatchVerifier {
    entries: Vec<Result<Item, SignError>>,
}

/// The result of [`BatchVerifier::verify`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BatchResults {
    /// One result per queued signature, in queue order.
    pub results: Vec<Result<(), SignError>>,
    /// True when the batch equation failed and every signature was checked alone.
    pub checked_one_by_one: bool,
}

impl BatchVerifier {
    /// An empty batch with room for `capacity` signatures.
    pub fn with_capacity(capacity: usize) -> Self {
        Self {
            entries: Vec::with_capacity(capacity),
        }
    }

    /// Queues the signature of `message` (over its signing bytes); returns its index.
    pub fn queue_message<M: SingleSigned>(&mut self, message: &M) -> usize {
        self.queue(
            message.signer(),
            message.signature(),
            &signing_bytes(message),
        )
    }

    /// Queues `signature` by the key `signer` over `bytes`; returns its index.
    pub fn queue(&mut self, signer: &[u8], signature: &[u8], bytes: &[u8]) -> usize {
        let entry = prepare(signer, signature).map(|(key, sig)| Item::from((key, sig, bytes)));
        self.entries.push(entry);
        self.entries.len() - 1
    }

    /// Signatures queued.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether nothing is queued.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Checks every queued signature.
    pub fn verify(self) -> BatchResults {
        let queued: Vec<&Item> = self
            .entries
            .iter()
            .filter_map(|e| e.as_ref().ok())
            .collect();
        let any_queued = !queued.is_empty();
        let batch_ok = any_queued && verify_batch(&queued);
        drop(queued);
        let results = self
            .entries
            .into_iter()
            .map(|entry| match entry {
                Err(refused) => Err(refused),
                Ok(_) if batch_ok => Ok(()),
                Ok(item) => verify_one(item),
            })
            .collect();
        BatchResults {
            results,
            checked_one_by_one: !batch_ok && any_queued,
        }
    }
}

/// The batch equation over `items`; false also when no randomness could be had (every item is
/// then checked alone, which needs none).
fn verify_batch(items: &[&Item]) -> bool {
    let Some(rng) = Coefficients::from_os() else {
        return false;
    };
    let mut verifier = Verifier::new();
    for item in items {
        verifier.queue((*item).clone());
    }
    verifier.verify(rng).is_ok()
}

fn verify_one(item: Item) -> Result<(), SignError> {
    item.verify_single().map_err(|e| match e {
        ed25519_zebra::Error::MalformedPublicKey => SignError::BadKey(32),
        _ => SignError::Mismatch,
    })
}

/// The batch's random coefficients: SHA-512 in counter mode over a 32-byte seed from the
/// operating system (one system call per batch instead of one per signature).
struct Coefficients {
    seed: [u8; 32],
    counter: u64,
    block: [u8; 64],
    used: usize,
}

impl Coefficients {
    fn from_os() -> Option<Self> {
        let mut seed = [0u8; 32];
        getrandom::fill(&mut seed).ok()?;
        Some(Self {
            seed,
            counter: 0,
            block: [0; 64],
            used: 64,
        })
    }

    fn next_byte(&mut self) -> u8 {
        if self.used == self.block.len() {
            let mut hasher = Sha512::new();
            hasher.update(self.seed);
            hasher.update(self.counter.to_le_bytes());
            self.block.copy_from_slice(&hasher.finalize());
            self.counter += 1;
            self.used = 0;
        }
        self.used += 1;
        self.block[self.used - 1]
    }
}

impl TryRng for Coefficients {
    type Error = Infallible;

    fn try_next_u32(&mut self) -> Result<u32, Infallible> {
        let mut bytes = [0u8; 4];
        self.try_fill_bytes(&mut bytes)?;
        Ok(u32::from_le_bytes(bytes))
    }

    fn try_next_u64(&mut self) -> Result<u64, Infallible> {
        let mut bytes = [0u8; 8];
        self.try_fill_bytes(&mut bytes)?;
        Ok(u64::from_le_bytes(bytes))
    }

    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Infallible> {
        for byte in dst {
            *byte = self.next_byte();
        }
        Ok(())
    }
}

impl TryCryptoRng for Coefficients {}
