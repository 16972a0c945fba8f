//! Batch verification under the same rule as [`super::verify_signature`].
//!
//! Queue signatures, then [`BatchVerifier::verify`] checks them all with one multiscalar
//! multiplication (ZIP 215's cofactored batch equation, random 128-bit coefficients from the
//! operating system). When the batch equation fails, every signature is checked alone, so each
//! bad one is identified exactly and the result of every item is the one
//! [`super::verify_signature`] gives for it.
//!
//! The equation is the one `ed25519-zebra`'s batch verifier checks, written here so that a
//! signer's key can be decoded once and kept ([`KeyCache`], [`BatchVerifier::verify_cached`]):
//! decoding a point is a field exponentiation, and with every signer of a batch different the
//! keys' decoding was about 7% of both cores at 51,000 reports/s of ingest (`pow2k`, with the
//! `R`s' decoding, 14.6%). Single checks stay `ed25519-zebra`'s.

use super::{SignError, SingleSigned, prepare, signing_bytes};
use curve25519_dalek::constants::ED25519_BASEPOINT_POINT;
use curve25519_dalek::edwards::{CompressedEdwardsY, EdwardsPoint};
use curve25519_dalek::scalar::Scalar;
use curve25519_dalek::traits::{IsIdentity, VartimeMultiscalarMul};
use ed25519_zebra::VerificationKey;
use rand_core::{Infallible, TryCryptoRng, TryRng};
use sha2::{Digest, Sha512};
use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::sync::RwLock;

/// Signatures queued for one batch check.
#[derive(Default)]
pub struct BatchVerifier {
    entries: Vec<Result<Queued, SignError>>,
}

/// A signature that passed the checks made before any curve arithmetic.
struct Queued {
    key: [u8; 32],
    signature: ed25519_zebra::Signature,
    /// `k = H(R || A || M) mod l`.
    challenge: Scalar,
    /// The signed bytes (for the single check when the batch equation fails).
    bytes: Vec<u8>,
}

/// The result of [`BatchVerifier::verify`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BatchResults {
    /// One result per queued signature, in queue order.
    pub results: Vec<Result<(), SignError>>,
    /// True when the batch equation failed and every signature was checked alone.
    pub checked_one_by_one: bool,
}

/// Signers' keys decoded to curve points, kept across batches (shared by threads). A key is
/// kept only once a batch equation holding over its signatures shows it is a point. Bounded:
/// when full it is emptied and fills again (a flood of fresh signers costs the decoding it
/// saves, never a wrong result: a point is a pure function of its 32 bytes).
pub struct KeyCache {
    points: RwLock<HashMap<[u8; 32], EdwardsPoint>>,
    capacity: usize,
}

impl KeyCache {
    /// A cache of at most `capacity` keys (160 bytes of point each, plus the key).
    pub fn new(capacity: usize) -> Self {
        Self {
            points: RwLock::new(HashMap::new()),
            capacity: capacity.max(1),
        }
    }

    /// Keys held.
    pub fn len(&self) -> usize {
        match self.points.read() {
            Ok(points) => points.len(),
            Err(poisoned) => poisoned.into_inner().len(),
        }
    }

    /// Whether no key is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The points held for `keys` (one lock for all).
    pub(super) fn lookup<'k>(
        &self,
        keys: impl Iterator<Item = &'k [u8; 32]>,
    ) -> HashMap<[u8; 32], EdwardsPoint> {
        let read = |points: &HashMap<[u8; 32], EdwardsPoint>| {
            keys.filter_map(|k| points.get(k).map(|p| (*k, *p)))
                .collect()
        };
        match self.points.read() {
            Ok(points) => read(&points),
            Err(poisoned) => read(&poisoned.into_inner()),
        }
    }

    fn insert(&self, decoded: Vec<([u8; 32], EdwardsPoint)>) {
        if decoded.is_empty() {
            return;
        }
        let mut points = match self.points.write() {
            Ok(points) => points,
            Err(poisoned) => poisoned.into_inner(),
        };
        for (key, point) in decoded {
            if points.len() >= self.capacity {
                points.clear();
            }
            points.insert(key, point);
        }
    }
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
        self.queue_owned(
            message.signer(),
            message.signature(),
            signing_bytes(message),
        )
    }

    /// Queues `signature` by the key `signer` over `bytes`; returns its index.
    pub fn queue(&mut self, signer: &[u8], signature: &[u8], bytes: &[u8]) -> usize {
        self.queue_owned(signer, signature, bytes.to_vec())
    }

    fn queue_owned(&mut self, signer: &[u8], signature: &[u8], bytes: Vec<u8>) -> usize {
        let entry = prepare(signer, signature).map(|(key, signature)| {
            let key = <[u8; 32]>::from(key);
            let mut hash = Sha512::new();
            hash.update(signature.r_bytes());
            hash.update(key);
            hash.update(&bytes);
            Queued {
                key,
                signature,
                challenge: Scalar::from_bytes_mod_order_wide(&hash.finalize().into()),
                bytes,
            }
        });
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
        self.run(None)
    }

    /// [`BatchVerifier::verify`], taking the signers' points from `keys` where it holds them
    /// and keeping there the ones it decodes when the batch equation holds. The results are
    /// the same.
    pub fn verify_cached(self, keys: &KeyCache) -> BatchResults {
        self.run(Some(keys))
    }

    fn run(self, cache: Option<&KeyCache>) -> BatchResults {
        let queued: Vec<&Queued> = self
            .entries
            .iter()
            .filter_map(|e| e.as_ref().ok())
            .collect();
        let any_queued = !queued.is_empty();
        let known = match cache {
            Some(cache) => cache.lookup(queued.iter().map(|q| &q.key)),
            None => HashMap::new(),
        };
        let mut decoded = Vec::new();
        let batch_ok = any_queued && equation_holds(&queued, &known, &mut decoded);
        drop(queued);
        if let (Some(cache), true) = (cache, batch_ok) {
            cache.insert(decoded);
        }
        let results = self
            .entries
            .into_iter()
            .map(|entry| match entry {
                Err(refused) => Err(refused),
                Ok(_) if batch_ok => Ok(()),
                Ok(queued) => verify_one(&queued),
            })
            .collect();
        BatchResults {
            results,
            checked_one_by_one: !batch_ok && any_queued,
        }
    }
}

/// ZIP 215's batch equation over `items`,
/// `[8]([-sum(z_i s_i)]B + sum([z_i]R_i) + sum([z_i k_i]A_i)) = 0` with random 128-bit `z_i`,
/// the `A` terms of one key summed into one. False when an `R` or a key is not a point, an `s`
/// is not canonical, or no randomness could be had (every item is then checked alone, which
/// needs none). `known` holds keys already decoded; the ones decoded here go to `decoded`.
fn equation_holds(
    items: &[&Queued],
    known: &HashMap<[u8; 32], EdwardsPoint>,
    decoded: &mut Vec<([u8; 32], EdwardsPoint)>,
) -> bool {
    let Some(mut rng) = Coefficients::from_os() else {
        return false;
    };
    let mut key_slot: HashMap<[u8; 32], usize> = HashMap::with_capacity(items.len());
    let mut keys = Vec::with_capacity(items.len());
    let mut key_coefficients = Vec::with_capacity(items.len());
    let mut rs = Vec::with_capacity(items.len());
    let mut r_coefficients = Vec::with_capacity(items.len());
    let mut b_coefficient = Scalar::ZERO;
    for item in items {
        let Some(r) = CompressedEdwardsY(*item.signature.r_bytes()).decompress() else {
            return false;
        };
        let Some(s) =
            Option::<Scalar>::from(Scalar::from_canonical_bytes(*item.signature.s_bytes()))
        else {
            return false;
        };
        let z = Scalar::from(rng.next_u128());
        b_coefficient -= z * s;
        rs.push(r);
        r_coefficients.push(z);
        let slot = match key_slot.entry(item.key) {
            Entry::Occupied(slot) => *slot.get(),
            Entry::Vacant(slot) => {
                let point = match known.get(&item.key) {
                    Some(point) => *point,
                    None => match CompressedEdwardsY(item.key).decompress() {
                        Some(point) => {
                            decoded.push((item.key, point));
                            point
                        }
                        None => return false,
                    },
                };
                keys.push(point);
                key_coefficients.push(Scalar::ZERO);
                *slot.insert(keys.len() - 1)
            }
        };
        key_coefficients[slot] += z * item.challenge;
    }
    let check = EdwardsPoint::vartime_multiscalar_mul(
        std::iter::once(&b_coefficient)
            .chain(&key_coefficients)
            .chain(&r_coefficients),
        std::iter::once(&ED25519_BASEPOINT_POINT)
            .chain(&keys)
            .chain(&rs),
    );
    check.mul_by_cofactor().is_identity()
}

/// The single check, exactly [`super::verify_signature`]'s after its byte checks.
fn verify_one(queued: &Queued) -> Result<(), SignError> {
    let key = VerificationKey::try_from(queued.key).map_err(|_| SignError::BadKey(32))?;
    key.verify(&queued.signature, &queued.bytes)
        .map_err(|_| SignError::Mismatch)
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

    fn next_u128(&mut self) -> u128 {
        let mut bytes = [0u8; 16];
        for byte in &mut bytes {
            *byte = self.next_byte();
        }
        u128::from_le_bytes(bytes)
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
