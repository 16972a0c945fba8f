//! Real QUIC on loopback: a client reaches a server whose key it pinned, and refuses any other.

use schemas::Keypair;
use schemas::proto::{EntropyRequest, Request, Response, request};
use std::time::Duration;
use transport::{ALPN_ORACLE, call, client_config, client_endpoint, read_message, server_config};

async fn echo_server(identity: &Keypair) -> (quinn::Endpoint, std::net::SocketAddr) {
    let config = server_config(identity, ALPN_ORACLE).expect("server config");
    let endpoint =
        quinn::Endpoint::server(config, "127.0.0.1:0".parse().expect("addr")).expect("bind");
    let addr = endpoint.local_addr().expect("addr");
    let server = endpoint.clone();
    tokio::spawn(async move {
        while let Some(incoming) = server.accept().await {
            let Ok(connection) = incoming.await else {
                continue;
            };
            tokio::spawn(async move {
                while let Ok((mut send, mut recv)) = connection.accept_bi().await {
                    let bytes = read_message(&mut recv, 1024).await.expect("read");
                    let _request: Request =
                        prost::Message::decode(bytes.as_slice()).expect("decode");
                    let response = Response::default();
                    send.write_all(&prost::Message::encode_to_vec(&response))
                        .await
                        .expect("write");
                    send.finish().expect("finish");
                }
            });
        }
    });
    (endpoint, addr)
}

#[tokio::test]
async fn pinned_key_connects_and_other_keys_are_refused() {
    let identity = Keypair::from_seed([42; 32]);
    let (_server, addr) = echo_server(&identity).await;
    let mut client = client_endpoint().expect("client");

    client
        .set_default_client_config(client_config(identity.public(), ALPN_ORACLE).expect("config"));
    let connection = client
        .connect(addr, "coverage-proof")
        .expect("connect")
        .await
        .expect("handshake");
    let request = Request {
        msg: Some(request::Msg::Entropy(EntropyRequest {})),
    };
    let response: Response = call(&connection, &request, Duration::from_secs(5))
        .await
        .expect("call");
    assert_eq!(response, Response::default());

    let impostor = Keypair::from_seed([43; 32]).public();
    client.set_default_client_config(client_config(impostor, ALPN_ORACLE).expect("config"));
    let refused = client
        .connect(addr, "coverage-proof")
        .expect("connect")
        .await;
    let message = refused
        .expect_err("must refuse an unpinned key")
        .to_string();
    assert!(
        message.contains("does not match the pinned key"),
        "{message}"
    );
}
