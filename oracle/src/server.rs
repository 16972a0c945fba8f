//! The QUIC server: one request per bidirectional stream (a request may carry a batch of
//! reports). Takes an already-bound endpoint and
//! a shutdown future, so tests bind `127.0.0.1:0`.

use crate::ingest::Ingest;
use prost::Message;
use schemas::proto::{RejectReason, Rejection, Response, report_result, response};
use std::future::Future;
use std::sync::Arc;
use transport::RpcError;
use transport::rpc::{MAX_REQUEST_BYTES, read_message};

/// Accepts connections until `shutdown`, then closes the endpoint.
pub async fn serve(
    endpoint: quinn::Endpoint,
    ingest: Arc<Ingest>,
    shutdown: impl Future<Output = ()>,
) {
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            () = &mut shutdown => break,
            incoming = endpoint.accept() => match incoming {
                Some(incoming) => { tokio::spawn(connection(incoming, Arc::clone(&ingest))); }
                None => break,
            },
        }
    }
    endpoint.close(0u32.into(), b"oracle shutting down");
}

async fn connection(incoming: quinn::Incoming, ingest: Arc<Ingest>) {
    let peer = incoming.remote_address();
    let connection = match incoming.await {
        Ok(connection) => connection,
        Err(e) => {
            tracing::debug!(%peer, error = %e, "handshake failed");
            return;
        }
    };
    tracing::debug!(%peer, "connected");
    loop {
        match connection.accept_bi().await {
            Ok((send, recv)) => {
                tokio::spawn(stream(send, recv, Arc::clone(&ingest), peer));
            }
            Err(e) => {
                tracing::debug!(%peer, reason = %e, "connection closed");
                return;
            }
        }
    }
}

async fn stream(
    mut send: quinn::SendStream,
    mut recv: quinn::RecvStream,
    ingest: Arc<Ingest>,
    peer: std::net::SocketAddr,
) {
    let response = match read_message(&mut recv, MAX_REQUEST_BYTES).await {
        Ok(bytes) => ingest.handle(&bytes).await,
        Err(RpcError::TooLarge(limit)) => {
            let _ = recv.stop(0u32.into());
            Response {
                msg: Some(response::Msg::Rejection(Rejection {
                    reason: RejectReason::TooLarge as i32,
                    detail: format!("request larger than {limit} bytes"),
                })),
            }
        }
        Err(e) => {
            tracing::debug!(%peer, error = %e, "request stream failed");
            return;
        }
    };
    log_rejections(&response, peer);
    if send.write_all(&response.encode_to_vec()).await.is_ok() {
        let _ = send.finish();
    }
}

fn log_rejections(response: &Response, peer: std::net::SocketAddr) {
    let log = |r: &Rejection| {
        tracing::info!(%peer, reason = ?RejectReason::try_from(r.reason).unwrap_or_default(), detail = %r.detail, "request rejected");
    };
    match &response.msg {
        Some(response::Msg::Rejection(r)) => log(r),
        Some(response::Msg::Results(results)) => {
            for result in &results.results {
                if let Some(report_result::Result::Rejection(r)) = &result.result {
                    log(r);
                }
            }
        }
        _ => {}
    }
}
