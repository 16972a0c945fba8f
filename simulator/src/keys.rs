//! Deterministic keys for a simulated network: every key derives from the scenario seed and a
//! name, so the same scenario always has the same hotspots, owners, oracle and medium.

use schemas::Keypair;
use sha2::{Digest, Sha256};

/// The key of `role` named `name` in a network seeded with `seed`.
pub fn derive(seed: u64, role: &str, name: &str) -> Keypair {
    let mut hasher = Sha256::new();
    hasher.update(b"coverage-proof simulator key\0");
    hasher.update(seed.to_le_bytes());
    hasher.update(role.as_bytes());
    hasher.update([0]);
    hasher.update(name.as_bytes());
    Keypair::from_seed(hasher.finalize().into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_depend_on_seed_role_and_name() {
        let a = derive(1, "hotspot", "a").public();
        assert_eq!(a, derive(1, "hotspot", "a").public());
        assert_ne!(a, derive(2, "hotspot", "a").public());
        assert_ne!(a, derive(1, "owner", "a").public());
        assert_ne!(a, derive(1, "hotspot", "b").public());
    }
}
