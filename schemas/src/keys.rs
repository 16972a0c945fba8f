//! ed25519 keys and key files.
//!
//! Key files use the Solana CLI format: a JSON array of 64 numbers, the 32-byte secret seed
//! followed by the 32-byte public key. So one file format serves hotspot, owner, oracle and
//! governance keys, and an owner key file is directly usable as a Solana wallet.

use ed25519_dalek::{Signer, SigningKey};
use std::fmt;
use std::path::Path;
use std::str::FromStr;

/// Length of an ed25519 public key in bytes.
pub const PUBLIC_KEY_LEN: usize = 32;
/// Length of an ed25519 signature in bytes.
pub const SIGNATURE_LEN: usize = 64;

/// Errors reading, writing or parsing keys.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("key file {path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("key file {path}: {reason}")]
    Format { path: String, reason: String },
    #[error("public key must be {PUBLIC_KEY_LEN} bytes, got {0}")]
    Length(usize),
    #[error("not a valid ed25519 public key")]
    InvalidPoint,
    #[error("not a base58 public key: {0}")]
    Base58(String),
    #[error("no randomness from the operating system: {0}")]
    Random(String),
}

/// An ed25519 public key (the same 32 bytes as a Solana address). Displays as base58.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PublicKey([u8; PUBLIC_KEY_LEN]);

impl PublicKey {
    /// Parses 32 raw bytes; does not check that they are a valid curve point.
    pub fn from_slice(bytes: &[u8]) -> Result<Self, KeyError> {
        let arr: [u8; PUBLIC_KEY_LEN] = bytes
            .try_into()
            .map_err(|_| KeyError::Length(bytes.len()))?;
        Ok(Self(arr))
    }

    /// Wraps raw bytes.
    pub const fn from_bytes(bytes: [u8; PUBLIC_KEY_LEN]) -> Self {
        Self(bytes)
    }

    /// The raw bytes.
    pub fn as_bytes(&self) -> &[u8; PUBLIC_KEY_LEN] {
        &self.0
    }

    /// The raw bytes as a vector (for protobuf fields).
    pub fn to_vec(&self) -> Vec<u8> {
        self.0.to_vec()
    }
}

impl fmt::Display for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&bs58::encode(self.0).into_string())
    }
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PublicKey({self})")
    }
}

impl FromStr for PublicKey {
    type Err = KeyError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bytes = bs58::decode(s.trim())
            .into_vec()
            .map_err(|e| KeyError::Base58(e.to_string()))?;
        Self::from_slice(&bytes)
    }
}

impl serde::Serialize for PublicKey {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for PublicKey {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// An ed25519 signing key. Its secret never appears in `Debug` output.
#[derive(Clone)]
pub struct Keypair(SigningKey);

impl fmt::Debug for Keypair {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Keypair({})", self.public())
    }
}

impl Keypair {
    /// A new key from the operating system's random source.
    pub fn generate() -> Result<Self, KeyError> {
        let mut seed = [0u8; 32];
        getrandom::fill(&mut seed).map_err(|e| KeyError::Random(e.to_string()))?;
        Ok(Self::from_seed(seed))
    }

    /// A key from a 32-byte secret seed (deterministic; for tests and simulations).
    pub fn from_seed(seed: [u8; 32]) -> Self {
        Self(SigningKey::from_bytes(&seed))
    }

    /// The public key.
    pub fn public(&self) -> PublicKey {
        PublicKey(self.0.verifying_key().to_bytes())
    }

    /// Signs raw bytes.
    pub fn sign(&self, message: &[u8]) -> [u8; SIGNATURE_LEN] {
        self.0.sign(message).to_bytes()
    }

    /// The 32-byte secret seed (to derive a TLS key from it).
    pub fn secret_seed(&self) -> [u8; 32] {
        self.0.to_bytes()
    }

    /// Solana CLI JSON: `[seed.., public..]`.
    pub fn to_json(&self) -> String {
        let mut all = Vec::with_capacity(64);
        all.extend_from_slice(&self.0.to_bytes());
        all.extend_from_slice(self.public().as_bytes());
        serde_json::to_string(&all).unwrap_or_default()
    }

    /// Parses Solana CLI JSON and checks that the public half matches the secret.
    pub fn from_json(text: &str, path: &str) -> Result<Self, KeyError> {
        let format = |reason: String| KeyError::Format {
            path: path.to_string(),
            reason,
        };
        let bytes: Vec<u8> = serde_json::from_str(text)
            .map_err(|e| format(format!("expected a JSON array of 64 bytes: {e}")))?;
        if bytes.len() != 64 {
            return Err(format(format!("expected 64 bytes, found {}", bytes.len())));
        }
        let mut seed = [0u8; 32];
        seed.copy_from_slice(&bytes[..32]);
        let key = Self::from_seed(seed);
        if key.public().as_bytes()[..] != bytes[32..] {
            return Err(format(
                "public key does not match the secret key".to_string(),
            ));
        }
        Ok(key)
    }

    /// Reads a key file.
    pub fn read_file(path: &Path) -> Result<Self, KeyError> {
        let shown = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| KeyError::Io {
            path: shown.clone(),
            source,
        })?;
        Self::from_json(&text, &shown)
    }

    /// Writes a new key file readable only by its owner; refuses to overwrite an existing file.
    pub fn write_new_file(&self, path: &Path) -> Result<(), KeyError> {
        use std::io::Write;
        let shown = path.display().to_string();
        let io = |source| KeyError::Io {
            path: shown.clone(),
            source,
        };
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(io)?;
        }
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut file = options.open(path).map_err(io)?;
        file.write_all(self.to_json().as_bytes()).map_err(io)?;
        file.sync_all().map_err(io)
    }

    /// Reads the key file at `path`, or creates it with a new key when it does not exist.
    pub fn read_or_create(path: &Path) -> Result<(Self, bool), KeyError> {
        if path.exists() {
            return Ok((Self::read_file(path)?, false));
        }
        let key = Self::generate()?;
        key.write_new_file(path)?;
        Ok((key, true))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_round_trip_and_public_key_check() {
        let key = Keypair::from_seed([7; 32]);
        let json = key.to_json();
        let back = Keypair::from_json(&json, "mem").expect("round trip");
        assert_eq!(back.public(), key.public());
        let mut tampered: Vec<u8> = serde_json::from_str(&json).expect("json");
        tampered[40] ^= 1;
        let text = serde_json::to_string(&tampered).expect("json");
        assert!(matches!(
            Keypair::from_json(&text, "mem"),
            Err(KeyError::Format { .. })
        ));
        assert!(Keypair::from_json("[1,2,3]", "mem").is_err());
        assert!(Keypair::from_json("not json", "mem").is_err());
    }

    #[test]
    fn base58_round_trip() {
        let key = Keypair::from_seed([9; 32]).public();
        let text = key.to_string();
        assert_eq!(text.parse::<PublicKey>().expect("parse"), key);
        assert!("0OIl".parse::<PublicKey>().is_err());
        assert!(matches!(
            "3yZe7d".parse::<PublicKey>(),
            Err(KeyError::Length(_))
        ));
    }

    #[test]
    fn key_file_is_created_once_and_private() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("sub/key.json");
        let (first, created) = Keypair::read_or_create(&path).expect("create");
        assert!(created);
        let (second, created) = Keypair::read_or_create(&path).expect("read");
        assert!(!created);
        assert_eq!(first.public(), second.public());
        assert!(first.write_new_file(&path).is_err(), "must not overwrite");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).expect("meta").permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }
}
