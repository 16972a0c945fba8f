//! QUIC plumbing shared by the services.
//!
//! - [`tls`]: a server identity is an ed25519 key (the oracle's signing key). Its self-signed
//!   certificate carries that key, and clients *pin the key* (printed by the server on first
//!   run) instead of trusting a CA. The same key signs entropy, so one base58 string both
//!   authenticates the connection and verifies what the oracle publishes.
//! - [`rpc`]: one request per bidirectional stream, answered by one response; both sides
//!   bound what they read.

pub mod rpc;
pub mod tls;

pub use rpc::{RpcError, call, read_message};
pub use tls::{TlsError, client_config, client_endpoint, server_config};

/// ALPN protocol id of the oracle protocol.
pub const ALPN_ORACLE: &[u8] = b"coverage-proof/1";
/// ALPN protocol id of the simulated radio medium.
pub const ALPN_MEDIUM: &[u8] = b"coverage-proof-medium/1";
