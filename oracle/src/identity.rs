//! The oracle's identity: one ed25519 key that signs entropy and is the TLS key agents pin.

use schemas::Keypair;
use std::path::Path;

/// Loads the oracle key from `path`, creating it on first run. Returns the key and whether it
/// was created.
pub fn load_or_create(path: &Path) -> Result<(Keypair, bool), schemas::KeyError> {
    Keypair::read_or_create(path)
}

/// The line `oracle serve` prints so operators can hand the pin to agents.
pub fn fingerprint_line(key: &Keypair) -> String {
    format!("oracle key (agents pin this): {}", key.public())
}
