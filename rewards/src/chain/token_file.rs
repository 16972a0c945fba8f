//! The token file (`rewards-data/token.json` by default, `[chain] token_file`):
//! `rewards chain create-token` writes the addresses of the reward mint and its multisig
//! authority there, and `rewards mint` reads them. Operators and threshold are recorded for
//! people; the mint engine reads the authoritative ones from the chain.

use super::Pubkey;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// Errors reading or writing the token file.
#[derive(Debug, thiserror::Error)]
pub enum TokenFileError {
    /// The file could not be read or written.
    #[error("token file {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file is not a valid token file.
    #[error("token file {path} is invalid: {detail}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        detail: String,
    },
    /// Refusing to overwrite: that would lose the address of an existing token.
    #[error(
        "token file {0} already exists (a token was created before); move it away to create another"
    )]
    Exists(PathBuf),
}

/// The reward token's addresses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenFile {
    /// The SPL Token mint.
    pub mint: Pubkey,
    /// Its mint authority: an SPL Token multisig.
    pub multisig: Pubkey,
    /// The multisig's M when created.
    pub threshold: u8,
    /// The multisig's members when created.
    pub operators: Vec<Pubkey>,
    /// Decimals of the mint.
    pub decimals: u8,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Stored {
    mint: String,
    multisig: String,
    threshold: u8,
    operators: Vec<String>,
    decimals: u8,
}

impl TokenFile {
    /// Reads `path`.
    pub fn read(path: &Path) -> Result<Self, TokenFileError> {
        let text = std::fs::read_to_string(path).map_err(|source| TokenFileError::Io {
            path: path.into(),
            source,
        })?;
        let invalid = |detail: String| TokenFileError::Invalid {
            path: path.into(),
            detail,
        };
        let stored: Stored = serde_json::from_str(&text).map_err(|e| invalid(e.to_string()))?;
        let parse = |text: &str, what: &str| -> Result<Pubkey, TokenFileError> {
            text.parse()
                .map_err(|_| invalid(format!("{what} {text:?} is not a base58 address")))
        };
        Ok(Self {
            mint: parse(&stored.mint, "mint")?,
            multisig: parse(&stored.multisig, "multisig")?,
            threshold: stored.threshold,
            operators: stored
                .operators
                .iter()
                .map(|o| parse(o, "operator"))
                .collect::<Result<_, _>>()?,
            decimals: stored.decimals,
        })
    }

    /// Writes a new token file at `path` (its directory is created); refuses to overwrite one.
    pub fn write_new(&self, path: &Path) -> Result<(), TokenFileError> {
        let io = |source| TokenFileError::Io {
            path: path.into(),
            source,
        };
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(io)?;
        }
        let stored = Stored {
            mint: self.mint.to_string(),
            multisig: self.multisig.to_string(),
            threshold: self.threshold,
            operators: self.operators.iter().map(ToString::to_string).collect(),
            decimals: self.decimals,
        };
        let mut json =
            serde_json::to_string_pretty(&stored).map_err(|e| TokenFileError::Invalid {
                path: path.into(),
                detail: e.to_string(),
            })?;
        json.push('\n');
        use std::io::Write;
        let mut file = std::fs::File::options()
            .write(true)
            .create_new(true)
            .open(path)
            .map_err(|source| {
                if source.kind() == std::io::ErrorKind::AlreadyExists {
                    TokenFileError::Exists(path.into())
                } else {
                    io(source)
                }
            })?;
        file.write_all(json.as_bytes()).map_err(io)?;
        file.sync_all().map_err(io)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_never_overwrites() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("data/token.json");
        let token = TokenFile {
            mint: Pubkey::new_unique(),
            multisig: Pubkey::new_unique(),
            threshold: 2,
            operators: vec![
                Pubkey::new_unique(),
                Pubkey::new_unique(),
                Pubkey::new_unique(),
            ],
            decimals: 6,
        };
        token.write_new(&path).expect("write");
        assert_eq!(TokenFile::read(&path).expect("read"), token);
        assert!(matches!(
            token.write_new(&path),
            Err(TokenFileError::Exists(_))
        ));
        std::fs::write(&path, "{\"mint\": 1}").expect("write");
        assert!(matches!(
            TokenFile::read(&path),
            Err(TokenFileError::Invalid { .. })
        ));
    }
}
