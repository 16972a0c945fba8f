//! In-test fakes of the oracle and of the simulator's radio medium, on real QUIC over loopback.

use hotspot_agent::radio::framing::next_message;
use prost::Message;
use schemas::Keypair;
use schemas::clock::SharedClock;
use schemas::proto::{
    Ack, DataRate, Entropy, MediumDown, MediumHello, MediumReception, MediumTransmit, MediumTxDone,
    MediumUp, Rejection, ReportResult, ReportResults, Request, Response, WitnessReport,
    medium_down, medium_up, report, report_result, request, response,
};
use schemas::sign::SingleSigned;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::mpsc;

/// Longest wait for anything in these tests.
pub const PATIENCE: Duration = Duration::from_secs(20);

/// Waits for `future`, failing the test after [`PATIENCE`].
pub async fn within<T>(what: &str, future: impl std::future::Future<Output = Option<T>>) -> T {
    match tokio::time::timeout(PATIENCE, future).await {
        Ok(Some(value)) => value,
        Ok(None) => panic!("{what}: channel closed"),
        Err(_) => panic!("{what}: nothing within {PATIENCE:?}"),
    }
}

fn server(identity: &Keypair, alpn: &[u8]) -> (quinn::Endpoint, SocketAddr) {
    let config = transport::server_config(identity, alpn).expect("server config");
    let endpoint =
        quinn::Endpoint::server(config, "127.0.0.1:0".parse().expect("addr")).expect("bind");
    let addr = endpoint.local_addr().expect("local addr");
    (endpoint, addr)
}

/// How the fake oracle answers the `n`th report (beacon or witness, counted from 0).
pub type Policy = Arc<dyn Fn(&Request, usize) -> Response + Send + Sync>;

/// Acknowledges every report.
pub fn ack_all() -> Policy {
    Arc::new(|request, _| ack(request))
}

/// An `Ack` of `request`.
pub fn ack(request: &Request) -> Response {
    let id = schemas::message_id(request).to_vec();
    Response {
        msg: Some(response::Msg::Ack(Ack {
            id,
            duplicate: false,
            received_ms: 0,
        })),
    }
}

/// A typed rejection.
pub fn reject(reason: schemas::proto::RejectReason) -> Response {
    let rejection = Rejection {
        reason: reason as i32,
        detail: "test".into(),
    };
    Response {
        msg: Some(response::Msg::Rejection(rejection)),
    }
}

/// The fake oracle: serves signed entropy and answers reports by a [`Policy`].
pub struct FakeOracle {
    pub addr: SocketAddr,
    /// Beacon and witness requests, in arrival order.
    pub reports: mpsc::UnboundedReceiver<Request>,
    /// Every entropy served.
    pub entropies: Arc<Mutex<Vec<Entropy>>>,
    /// Per report request in arrival order: `None` for one report alone, `Some(n)` for a
    /// `ReportBatch` of `n`.
    pub requests: Arc<Mutex<Vec<Option<usize>>>>,
    _endpoint: quinn::Endpoint,
}

impl FakeOracle {
    pub fn start(identity: Keypair, clock: SharedClock, policy: Policy) -> Self {
        Self::with_batches(identity, clock, policy, true)
    }

    /// An oracle that refuses every `ReportBatch` whole with `MALFORMED` (as one that predates
    /// batches does: it decodes an empty request).
    pub fn start_without_batches(identity: Keypair, clock: SharedClock, policy: Policy) -> Self {
        Self::with_batches(identity, clock, policy, false)
    }

    fn with_batches(identity: Keypair, clock: SharedClock, policy: Policy, batches: bool) -> Self {
        let (endpoint, addr) = server(&identity, transport::ALPN_ORACLE);
        let (report_tx, reports) = mpsc::unbounded_channel();
        let entropies = Arc::new(Mutex::new(Vec::new()));
        let requests = Arc::new(Mutex::new(Vec::new()));
        let state = Arc::new(OracleState {
            identity,
            clock,
            policy,
            report_tx,
            entropies: entropies.clone(),
            requests: requests.clone(),
            batches,
            count: Mutex::new(0),
        });
        let server = endpoint.clone();
        tokio::spawn(async move {
            while let Some(incoming) = server.accept().await {
                let state = state.clone();
                tokio::spawn(async move {
                    let Ok(connection) = incoming.await else {
                        return;
                    };
                    while let Ok((mut send, mut recv)) = connection.accept_bi().await {
                        let Ok(bytes) = transport::read_message(&mut recv, 64 * 1024).await else {
                            return;
                        };
                        let Ok(request) = Request::decode(bytes.as_slice()) else {
                            return;
                        };
                        let response = state.answer(request);
                        let _ = send.write_all(&response.encode_to_vec()).await;
                        let _ = send.finish();
                    }
                });
            }
        });
        Self {
            addr,
            reports,
            entropies,
            requests,
            _endpoint: endpoint,
        }
    }

    /// The entropy served with `data`.
    pub fn entropy_with(&self, data: &[u8]) -> Entropy {
        let entropies = self.entropies.lock().expect("lock");
        entropies
            .iter()
            .find(|e| e.data == data)
            .cloned()
            .expect("the report's entropy was served")
    }
}

struct OracleState {
    identity: Keypair,
    clock: SharedClock,
    policy: Policy,
    report_tx: mpsc::UnboundedSender<Request>,
    entropies: Arc<Mutex<Vec<Entropy>>>,
    requests: Arc<Mutex<Vec<Option<usize>>>>,
    batches: bool,
    count: Mutex<usize>,
}

impl OracleState {
    fn answer(&self, request: Request) -> Response {
        match &request.msg {
            Some(request::Msg::Entropy(_)) => {
                let mut entropies = self.entropies.lock().expect("lock");
                let data = [entropies.len() as u8 + 100; 32].to_vec();
                let mut entropy = Entropy {
                    data,
                    timestamp_ms: self.clock.now_ms(),
                    version: 0,
                    ..Default::default()
                };
                entropy.sign_with(&self.identity);
                entropies.push(entropy.clone());
                Response {
                    msg: Some(response::Msg::Entropy(entropy)),
                }
            }
            Some(request::Msg::Reports(batch)) => {
                let reports = batch.reports.clone();
                self.requests
                    .lock()
                    .expect("lock")
                    .push(Some(reports.len()));
                if !self.batches {
                    return reject(schemas::proto::RejectReason::Malformed);
                }
                let results = reports
                    .into_iter()
                    .map(|r| {
                        let msg = match r.report {
                            Some(report::Report::Beacon(b)) => request::Msg::Beacon(b),
                            Some(report::Report::Witness(w)) => request::Msg::Witness(w),
                            None => return ReportResult::default(),
                        };
                        let result = match self.report(Request { msg: Some(msg) }).msg {
                            Some(response::Msg::Ack(ack)) => report_result::Result::Ack(ack),
                            Some(response::Msg::Rejection(r)) => {
                                report_result::Result::Rejection(r)
                            }
                            _ => return ReportResult::default(),
                        };
                        ReportResult {
                            result: Some(result),
                        }
                    })
                    .collect();
                Response {
                    msg: Some(response::Msg::Results(ReportResults { results })),
                }
            }
            _ => {
                self.requests.lock().expect("lock").push(None);
                self.report(request)
            }
        }
    }

    /// Answers one report by the policy and records it.
    fn report(&self, request: Request) -> Response {
        let n = {
            let mut count = self.count.lock().expect("lock");
            *count += 1;
            *count - 1
        };
        let response = (self.policy)(&request, n);
        let _ = self.report_tx.send(request);
        response
    }
}

/// One agent connection to the fake medium.
pub struct MediumLink {
    pub hello: MediumHello,
    /// Raw bytes to send down to the agent.
    pub down: mpsc::UnboundedSender<Vec<u8>>,
}

impl MediumLink {
    /// Sends a `MediumDown` message.
    pub fn send(&self, message: MediumDown) {
        self.down
            .send(message.encode_length_delimited_to_vec())
            .expect("link open");
    }
}

/// The fake radio medium: reports connections and transmissions; the test writes downlinks.
pub struct FakeMedium {
    pub addr: SocketAddr,
    pub links: mpsc::UnboundedReceiver<MediumLink>,
    pub transmits: mpsc::UnboundedReceiver<MediumTransmit>,
    _endpoint: quinn::Endpoint,
}

impl FakeMedium {
    pub fn start(identity: &Keypair) -> Self {
        let (endpoint, addr) = server(identity, transport::ALPN_MEDIUM);
        let (link_tx, links) = mpsc::unbounded_channel();
        let (transmit_tx, transmits) = mpsc::unbounded_channel();
        let server = endpoint.clone();
        tokio::spawn(async move {
            while let Some(incoming) = server.accept().await {
                let (link_tx, transmit_tx) = (link_tx.clone(), transmit_tx.clone());
                tokio::spawn(async move {
                    let Ok(connection) = incoming.await else {
                        return;
                    };
                    let Ok((send, recv)) = connection.accept_bi().await else {
                        return;
                    };
                    medium_session(send, recv, link_tx, transmit_tx).await;
                });
            }
        });
        Self {
            addr,
            links,
            transmits,
            _endpoint: endpoint,
        }
    }
}

async fn medium_session(
    mut send: quinn::SendStream,
    mut recv: quinn::RecvStream,
    link_tx: mpsc::UnboundedSender<MediumLink>,
    transmit_tx: mpsc::UnboundedSender<MediumTransmit>,
) {
    let (down, mut down_rx) = mpsc::unbounded_channel::<Vec<u8>>();
    tokio::spawn(async move {
        while let Some(bytes) = down_rx.recv().await {
            if send.write_all(&bytes).await.is_err() {
                return;
            }
        }
    });
    let mut down = Some(down);
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    while let Ok(Some(n)) = recv.read(&mut chunk).await {
        buf.extend_from_slice(&chunk[..n]);
        while let Ok(Some((header, body))) = next_message(&buf, 4096) {
            let message =
                MediumUp::decode(&buf[header..header + body]).expect("agent sends valid MediumUp");
            buf.drain(..header + body);
            match message.msg {
                Some(medium_up::Msg::Hello(hello)) => {
                    let down = down.take().expect("one hello per connection");
                    let _ = link_tx.send(MediumLink { hello, down });
                }
                Some(medium_up::Msg::Transmit(transmit)) => {
                    let _ = transmit_tx.send(transmit);
                }
                None => panic!("empty MediumUp"),
            }
        }
    }
}

/// A reception to send down to the agent.
pub fn reception(payload: Vec<u8>, rssi_ddbm: i32, snr_ddb: i32) -> MediumDown {
    let reception = MediumReception {
        payload,
        frequency_hz: 904_300_000,
        datarate: DataRate::Sf9bw125 as i32,
        rssi_ddbm,
        snr_ddb,
        radio_timestamp_ns: 11,
        tmst: 22,
    };
    MediumDown {
        msg: Some(medium_down::Msg::Reception(reception)),
    }
}

/// A transmission confirmation.
pub fn tx_done(tx_power_ddbm: i32) -> MediumDown {
    let done = MediumTxDone {
        radio_timestamp_ns: 1_750_000_000_123_456_789,
        tmst: 4242,
        tx_power_ddbm,
    };
    MediumDown {
        msg: Some(medium_down::Msg::TxDone(done)),
    }
}

/// The next witness report the oracle received (skipping others).
pub async fn next_witness(oracle: &mut FakeOracle) -> WitnessReport {
    loop {
        if let Some(request::Msg::Witness(w)) =
            within("witness report", oracle.reports.recv()).await.msg
        {
            return w;
        }
    }
}
