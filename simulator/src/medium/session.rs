//! One agent's connection: the hello, then transmits in and tx-dones and receptions out.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use quinn::{RecvStream, SendStream, VarInt};
use schemas::PublicKey;
use schemas::proto::{MediumDown, MediumUp, medium_up};
use schemas::sign::{SignError, SingleSigned};
use tokio::sync::mpsc;
use tracing::{info, warn};

use super::air::{Transmit, TransmitError};
use super::frame::{FrameError, encode_frame, read_frame};
use super::{CloseCode, Medium};

/// How long an agent has to open its stream and say hello, real time.
pub const HELLO_TIMEOUT: Duration = Duration::from_secs(10);
/// Messages queued for one agent before it counts as not reading.
pub(super) const OUTBOX_CAPACITY: usize = 1024;

/// Why a connection ended.
#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    /// The connection failed or was closed (by either side, or by shutdown).
    #[error("connection lost: {0}")]
    Connection(#[from] quinn::ConnectionError),
    /// Writing to the agent failed.
    #[error("write failed: {0}")]
    Write(#[from] quinn::WriteError),
    /// No stream or no hello within [`HELLO_TIMEOUT`].
    #[error("no hello within {HELLO_TIMEOUT:?}")]
    HelloTimeout,
    /// The stream ended before the hello.
    #[error("stream ended before the hello")]
    NoHello,
    /// The first message was not a hello.
    #[error("first message must be a hello")]
    ExpectedHello,
    /// A second hello on an established stream.
    #[error("unexpected second hello")]
    UnexpectedHello,
    /// A message with no content.
    #[error("empty message")]
    Empty,
    /// The hello's signature does not verify.
    #[error("hello signature: {0}")]
    Signature(#[from] SignError),
    /// The hello names a key that is not a node of the medium.
    #[error("hotspot {0} is not a node of this medium")]
    UnknownNode(PublicKey),
    /// A frame could not be read or decoded.
    #[error("bad frame: {0}")]
    Frame(#[from] FrameError),
    /// A transmit request is malformed.
    #[error("bad transmit: {0}")]
    Transmit(#[from] TransmitError),
}

impl SessionError {
    /// The close code to send, or `None` when the connection is already gone.
    fn close_code(&self) -> Option<CloseCode> {
        match self {
            Self::Connection(_) | Self::Write(_) | Self::Frame(FrameError::Io(_)) => None,
            Self::Signature(_) | Self::UnknownNode(_) => Some(CloseCode::Refused),
            _ => Some(CloseCode::ProtocolError),
        }
    }
}

/// Serves one incoming connection until it ends; logs how it ended and never panics.
pub(super) async fn run(medium: Arc<Medium>, incoming: quinn::Incoming) {
    let peer = incoming.remote_address();
    let connection = match incoming.await {
        Ok(connection) => connection,
        Err(error) => {
            info!(%peer, %error, "medium handshake failed");
            return;
        }
    };
    match serve_connection(&medium, &connection, peer).await {
        Ok(()) => {
            info!(%peer, "agent closed its medium stream");
            connection.close(CloseCode::Normal.into(), b"stream finished");
        }
        Err(error) => match error.close_code() {
            Some(code) => {
                warn!(%peer, %error, "closing medium connection");
                if matches!(code, CloseCode::Refused) {
                    medium.count_refused();
                }
                connection.close(code.into(), error.to_string().as_bytes());
            }
            None => info!(%peer, %error, "medium connection ended"),
        },
    }
}

async fn serve_connection(
    medium: &Medium,
    connection: &quinn::Connection,
    peer: SocketAddr,
) -> Result<(), SessionError> {
    let (send, mut recv) = tokio::time::timeout(HELLO_TIMEOUT, connection.accept_bi())
        .await
        .map_err(|_| SessionError::HelloTimeout)??;
    let hello = tokio::time::timeout(HELLO_TIMEOUT, read_frame::<MediumUp, _>(&mut recv))
        .await
        .map_err(|_| SessionError::HelloTimeout)??
        .ok_or(SessionError::NoHello)?;
    let key = check_hello(medium, hello)?;
    info!(%peer, hotspot = %key, "agent joined the medium");
    let (outbox, queued) = mpsc::channel(OUTBOX_CAPACITY);
    let id = medium.attach(key, connection.clone(), outbox);
    let result = tokio::select! {
        result = read_loop(medium, key, &mut recv) => result,
        result = write_loop(send, queued) => result,
    };
    medium.detach(&key, id);
    result
}

/// Verifies the hello and returns its hotspot key, which must be a node.
fn check_hello(medium: &Medium, hello: MediumUp) -> Result<PublicKey, SessionError> {
    let Some(medium_up::Msg::Hello(hello)) = hello.msg else {
        return Err(SessionError::ExpectedHello);
    };
    let key = hello.verify()?;
    if !medium.knows(&key) {
        return Err(SessionError::UnknownNode(key));
    }
    Ok(key)
}

/// Reads transmits until the agent finishes its stream.
async fn read_loop(
    medium: &Medium,
    key: PublicKey,
    recv: &mut RecvStream,
) -> Result<(), SessionError> {
    while let Some(up) = read_frame::<MediumUp, _>(recv).await? {
        match up.msg {
            Some(medium_up::Msg::Transmit(request)) => {
                medium.transmit(&key, &Transmit::try_from(request)?)
            }
            Some(medium_up::Msg::Hello(_)) => return Err(SessionError::UnexpectedHello),
            None => return Err(SessionError::Empty),
        }
    }
    Ok(())
}

/// Writes queued messages to the agent until the queue is dropped.
async fn write_loop(
    mut send: SendStream,
    mut queued: mpsc::Receiver<MediumDown>,
) -> Result<(), SessionError> {
    while let Some(down) = queued.recv().await {
        send.write_all(&encode_frame(&down)).await?;
    }
    // Detached (superseded or too slow): the connection is being closed; park until it is.
    std::future::pending().await
}

impl From<CloseCode> for VarInt {
    fn from(code: CloseCode) -> Self {
        VarInt::from_u32(code as u32)
    }
}
