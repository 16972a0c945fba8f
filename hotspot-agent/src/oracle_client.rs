//! The agent's one QUIC connection to the oracle, re-established with jittered exponential
//! backoff (real time, 1 s doubling to 60 s) whenever it drops.

use crate::backoff::Backoff;
use crate::stats::AgentStats;
use crate::status::Board;
use schemas::PublicKey;
use schemas::clock::{SharedClock, SystemClock};
use schemas::proto::{
    Entropy, EntropyRequest, RejectReason, Rejection, Request, Response, request, response,
};
use schemas::sign::{SignError, SingleSigned};
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;
use tokio::sync::Mutex;
use tokio::time::Instant;
use tracing::{info, warn};

/// TLS server name the oracle's certificate is made for.
pub const ORACLE_SERVER_NAME: &str = "coverage-proof";
/// What rustls says when the server's key is not the pinned one (see `transport::tls`).
const PIN_MISMATCH: &str = "does not match the pinned key";

/// Errors talking to the oracle.
#[derive(Debug, thiserror::Error)]
pub enum OracleError {
    /// The QUIC client configuration could not be made.
    #[error("oracle client configuration: {0}")]
    Transport(#[from] transport::TlsError),
    /// The server answered with a key other than the pinned one.
    #[error("oracle at {address} refused: {detail}")]
    PinnedKeyMismatch {
        /// The oracle's address.
        address: SocketAddr,
        /// The TLS error (names both keys; contains "does not match the pinned key").
        detail: String,
    },
    /// No connection could be made.
    #[error("oracle at {address} unreachable: {detail}")]
    Unreachable {
        /// The oracle's address.
        address: SocketAddr,
        /// Why.
        detail: String,
    },
    /// The request was sent but no valid answer came back.
    #[error("oracle request failed: {0}")]
    Rpc(#[from] transport::RpcError),
    /// The oracle refused the request.
    #[error("oracle rejected the request: {reason:?} ({detail})")]
    Rejected {
        /// The typed reason.
        reason: RejectReason,
        /// Human-readable detail from the oracle.
        detail: String,
    },
    /// The oracle answered with the wrong kind of response.
    #[error("unexpected response from the oracle: expected {expected}")]
    UnexpectedResponse {
        /// What was expected.
        expected: &'static str,
    },
    /// The entropy's signature does not verify.
    #[error("entropy signature: {0}")]
    EntropySignature(#[from] SignError),
    /// The entropy is signed by a key other than the pinned oracle key.
    #[error("entropy signed by {found}, not by the pinned oracle key {pinned}")]
    EntropySigner {
        /// The signer named in the entropy.
        found: PublicKey,
        /// The pinned key.
        pinned: PublicKey,
    },
}

impl OracleError {
    /// Builds the error for a typed rejection.
    pub fn rejected(rejection: Rejection) -> Self {
        Self::Rejected {
            reason: rejection.reason(),
            detail: rejection.detail,
        }
    }
}

struct Link {
    connection: Option<quinn::Connection>,
    backoff: Backoff,
    retry_at: Option<Instant>,
    connected_before: bool,
}

/// A client of the oracle. Share it (`Arc`) between tasks: requests go over one connection.
pub struct OracleClient {
    endpoint: quinn::Endpoint,
    client: quinn::ClientConfig,
    address: SocketAddr,
    key: PublicKey,
    timeout: Duration,
    stats: Arc<AgentStats>,
    board: Arc<Board>,
    clock: SharedClock,
    link: Mutex<Link>,
}

impl std::fmt::Debug for OracleClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OracleClient")
            .field("address", &self.address)
            .field("key", &self.key)
            .finish()
    }
}

impl OracleClient {
    /// A client of the oracle at `address` that must present `key`; each request (and each
    /// connection attempt) may take up to `timeout`. Connects on first use.
    pub fn new(
        endpoint: quinn::Endpoint,
        address: SocketAddr,
        key: PublicKey,
        timeout: Duration,
    ) -> Result<Self, OracleError> {
        let client = transport::client_config(key, transport::ALPN_ORACLE)?;
        let link = Link {
            connection: None,
            backoff: Backoff::default(),
            retry_at: None,
            connected_before: false,
        };
        let stats = Arc::default();
        Ok(Self {
            endpoint,
            client,
            address,
            key,
            timeout,
            stats,
            board: Arc::default(),
            clock: Arc::new(SystemClock),
            link: Mutex::new(link),
        })
    }

    /// Counts reconnects and connection failures in `stats`.
    pub fn with_stats(mut self, stats: Arc<AgentStats>) -> Self {
        self.stats = stats;
        self
    }

    /// Records the link's state on `board` (times from `clock`).
    pub fn with_board(mut self, board: Arc<Board>, clock: SharedClock) -> Self {
        self.board = board;
        self.clock = clock;
        self
    }

    /// The pinned oracle key.
    pub fn key(&self) -> PublicKey {
        self.key
    }

    /// Sends one request and returns the oracle's response. Makes (at most) one connection
    /// attempt, after waiting out the backoff left by earlier failures.
    pub async fn submit(&self, request: &Request) -> Result<Response, OracleError> {
        let connection = self.connection().await?;
        match transport::call(&connection, request, self.timeout).await {
            Ok(response) => {
                self.link.lock().await.backoff.reset();
                Ok(response)
            }
            Err(error) => {
                self.drop_connection(&connection, &error).await;
                Err(error.into())
            }
        }
    }

    /// Fetches the current entropy and checks it is signed by the pinned oracle key.
    pub async fn entropy(&self) -> Result<Entropy, OracleError> {
        let request = Request {
            msg: Some(request::Msg::Entropy(EntropyRequest {})),
        };
        match self.submit(&request).await?.msg {
            Some(response::Msg::Entropy(entropy)) => {
                let signer = entropy.verify()?;
                if signer != self.key {
                    return Err(OracleError::EntropySigner {
                        found: signer,
                        pinned: self.key,
                    });
                }
                Ok(entropy)
            }
            Some(response::Msg::Rejection(rejection)) => Err(OracleError::rejected(rejection)),
            _ => Err(OracleError::UnexpectedResponse {
                expected: "entropy",
            }),
        }
    }

    /// Closes the connection (if any).
    pub async fn close(&self) {
        if let Some(connection) = self.link.lock().await.connection.take() {
            connection.close(0u32.into(), b"agent stopping");
        }
    }

    async fn connection(&self) -> Result<quinn::Connection, OracleError> {
        let mut link = self.link.lock().await;
        if let Some(connection) = &link.connection {
            if connection.close_reason().is_none() {
                return Ok(connection.clone());
            }
            link.connection = None;
        }
        if let Some(at) = link.retry_at.take() {
            tokio::time::sleep_until(at).await;
        }
        match self.connect().await {
            Ok(connection) => {
                if link.connected_before {
                    self.stats.reconnects.fetch_add(1, Ordering::Relaxed);
                    info!(oracle = %self.address, "reconnected to the oracle");
                } else {
                    info!(oracle = %self.address, "connected to the oracle");
                }
                link.connected_before = true;
                link.connection = Some(connection.clone());
                self.board.oracle(true, None, self.clock.now_ms());
                Ok(connection)
            }
            Err(error) => {
                self.stats
                    .oracle_connect_failures
                    .fetch_add(1, Ordering::Relaxed);
                let delay = link.backoff.next_delay();
                link.retry_at = Some(Instant::now() + delay);
                warn!(%error, retry_in = ?delay, "cannot connect to the oracle");
                self.board
                    .oracle(false, Some(error.to_string()), self.clock.now_ms());
                Err(error)
            }
        }
    }

    async fn connect(&self) -> Result<quinn::Connection, OracleError> {
        let unreachable = |detail: String| OracleError::Unreachable {
            address: self.address,
            detail,
        };
        let connecting = self
            .endpoint
            .connect_with(self.client.clone(), self.address, ORACLE_SERVER_NAME)
            .map_err(|e| unreachable(e.to_string()))?;
        match tokio::time::timeout(self.timeout, connecting).await {
            Err(_) => Err(unreachable(format!(
                "no handshake within {:?}",
                self.timeout
            ))),
            Ok(Ok(connection)) => Ok(connection),
            Ok(Err(error)) => {
                let detail = error.to_string();
                if detail.contains(PIN_MISMATCH) {
                    Err(OracleError::PinnedKeyMismatch {
                        address: self.address,
                        detail,
                    })
                } else {
                    Err(unreachable(detail))
                }
            }
        }
    }

    /// Forgets `connection` after a failed request and delays the next connection attempt.
    async fn drop_connection(&self, connection: &quinn::Connection, error: &transport::RpcError) {
        let mut link = self.link.lock().await;
        if link
            .connection
            .as_ref()
            .is_some_and(|c| c.stable_id() == connection.stable_id())
        {
            link.connection = None;
            connection.close(0u32.into(), b"request failed");
            let delay = link.backoff.next_delay();
            link.retry_at = Some(Instant::now() + delay);
            warn!(%error, retry_in = ?delay, "oracle request failed; reconnecting");
            self.board
                .oracle(false, Some(error.to_string()), self.clock.now_ms());
        }
    }
}
