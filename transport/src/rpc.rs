//! One request per bidirectional stream, answered by one response.

use prost::Message;
use std::time::Duration;

/// Largest request a server reads (reports are a few hundred bytes).
pub const MAX_REQUEST_BYTES: usize = 64 * 1024;
/// Largest response a client reads.
pub const MAX_RESPONSE_BYTES: usize = 1024 * 1024;

/// Errors of a request/response exchange.
#[derive(Debug, thiserror::Error)]
pub enum RpcError {
    #[error("connection lost: {0}")]
    Connection(#[from] quinn::ConnectionError),
    #[error("stream write failed: {0}")]
    Write(#[from] quinn::WriteError),
    #[error("stream closed early: {0}")]
    Closed(#[from] quinn::ClosedStream),
    #[error("stream read failed: {0}")]
    Read(String),
    #[error("message larger than {0} bytes")]
    TooLarge(usize),
    #[error("undecodable message: {0}")]
    Decode(#[from] prost::DecodeError),
    #[error("no answer within {0:?}")]
    Timeout(Duration),
}

/// Sends `request` on a new stream and waits up to `timeout` for the decoded response.
pub async fn call<Req: Message, Resp: Message + Default>(
    connection: &quinn::Connection,
    request: &Req,
    timeout: Duration,
) -> Result<Resp, RpcError> {
    let exchange = async {
        let (mut send, mut recv) = connection.open_bi().await?;
        send.write_all(&request.encode_to_vec()).await?;
        send.finish()?;
        let bytes = read_message(&mut recv, MAX_RESPONSE_BYTES).await?;
        Ok(Resp::decode(bytes.as_slice())?)
    };
    tokio::time::timeout(timeout, exchange)
        .await
        .map_err(|_| RpcError::Timeout(timeout))?
}

/// Reads a whole stream, refusing more than `limit` bytes.
pub async fn read_message(recv: &mut quinn::RecvStream, limit: usize) -> Result<Vec<u8>, RpcError> {
    recv.read_to_end(limit).await.map_err(|e| match e {
        quinn::ReadToEndError::TooLong => RpcError::TooLarge(limit),
        quinn::ReadToEndError::Read(e) => RpcError::Read(e.to_string()),
    })
}
