//! Small-order keys, refused by a comparison of bytes instead of a point decompression.
//!
//! An encoding decodes to the point with `y = (bytes with bit 255 cleared) mod p` and the sign
//! of `x` given by bit 255. A small-order point has one of the few `y` values of the eight
//! torsion points, and the torsion group is closed under negation, so an encoding names a
//! small-order point exactly when its low 255 bits are `y` or `y + p` (when that is below
//! 2^255) for one of those `y`, whatever its sign bit. That list is derived once from
//! curve25519-dalek's `EIGHT_TORSION`; checking a key against it costs a few comparisons of
//! 32 bytes, where decompressing the key would cost a field exponentiation per signature.

use curve25519_dalek::constants::EIGHT_TORSION;
use std::sync::OnceLock;

/// p = 2^255 - 19, little-endian.
const P: [u8; 32] = {
    let mut p = [0xff; 32];
    p[0] = 0xed;
    p[31] = 0x7f;
    p
};

/// Every 255-bit `y` encoding (sign bit cleared) of a point of small order.
fn small_order_ys() -> &'static [[u8; 32]] {
    static YS: OnceLock<Vec<[u8; 32]>> = OnceLock::new();
    YS.get_or_init(|| {
        let mut ys = Vec::new();
        for point in EIGHT_TORSION {
            let mut y = point.compress().to_bytes();
            y[31] &= 0x7f;
            ys.push(y);
            if let Some(alias) = plus_p(&y) {
                ys.push(alias);
            }
        }
        ys.sort_unstable();
        ys.dedup();
        ys
    })
}

/// `y + p` when it is below 2^255 (a non-canonical encoding of the same `y`).
fn plus_p(y: &[u8; 32]) -> Option<[u8; 32]> {
    let mut out = [0u8; 32];
    let mut carry = 0u16;
    for ((o, a), b) in out.iter_mut().zip(y).zip(P) {
        let sum = u16::from(*a) + u16::from(b) + carry;
        *o = sum as u8;
        carry = sum >> 8;
    }
    (carry == 0 && out[31] & 0x80 == 0).then_some(out)
}

/// Whether `key` encodes a point of small order (canonically or not, either sign bit).
pub fn is_small_order_key(key: &[u8; 32]) -> bool {
    let mut y = *key;
    y[31] &= 0x7f;
    small_order_ys().contains(&y)
}

#[cfg(test)]
mod tests {
    use super::*;
    use curve25519_dalek::edwards::CompressedEdwardsY;
    use rand_chacha::ChaCha20Rng;
    use rand_chacha::rand_core::{RngCore, SeedableRng};

    fn decodes_to_small_order(bytes: [u8; 32]) -> Option<bool> {
        CompressedEdwardsY(bytes)
            .decompress()
            .map(|p| p.is_small_order())
    }

    #[test]
    fn every_encoding_of_every_torsion_point_is_refused() {
        let mut encodings = 0;
        for point in EIGHT_TORSION {
            let canonical = point.compress().to_bytes();
            let mut low = canonical;
            low[31] &= 0x7f;
            let mut variants = vec![low];
            variants.extend(plus_p(&low));
            for variant in variants {
                for sign in [0u8, 0x80] {
                    let mut bytes = variant;
                    bytes[31] |= sign;
                    assert!(is_small_order_key(&bytes), "{}", hex::encode(bytes));
                    if let Some(small) = decodes_to_small_order(bytes) {
                        assert!(small, "{} decodes to a large point", hex::encode(bytes));
                        encodings += 1;
                    }
                }
            }
        }
        // The eight points, plus non-canonical aliases (y = 0 and y = 1 have y + p < 2^255,
        // and the points with x = 0 accept either sign bit).
        assert!(encodings > 8, "{encodings}");
    }

    #[test]
    fn agrees_with_decompression_on_random_and_nearby_encodings() {
        let mut rng = ChaCha20Rng::seed_from_u64(215);
        let mut keys: Vec<[u8; 32]> = (0..2_000)
            .map(|_| {
                let mut k = [0u8; 32];
                rng.fill_bytes(&mut k);
                k
            })
            .collect();
        // Encodings one bit away from each small-order encoding.
        for y in small_order_ys() {
            for bit in 0..255 {
                let mut k = *y;
                k[bit / 8] ^= 1 << (bit % 8);
                keys.push(k);
            }
        }
        for key in keys {
            if let Some(small) = decodes_to_small_order(key) {
                assert_eq!(is_small_order_key(&key), small, "{}", hex::encode(key));
            }
        }
    }

    #[test]
    fn honest_keys_are_not_small_order() {
        for seed in 0..64u8 {
            let key = crate::Keypair::from_seed([seed; 32]).public();
            assert!(!is_small_order_key(key.as_bytes()));
        }
    }
}
