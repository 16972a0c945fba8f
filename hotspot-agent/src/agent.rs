//! The agent: beaconer, witness path and report delivery over one oracle connection, around a
//! [`Radio`].

use crate::beaconer::Beaconer;
use crate::cache::BeaconCache;
use crate::oracle_client::{OracleClient, OracleError};
use crate::outbox::{OUTBOX_CAPACITY, Outbox, deliver, kind};
use crate::radio::{Radio, RadioError, RxFrame, TxDone, TxFrame};
use crate::stats::AgentStats;
use crate::status::Board;
use crate::witness::witness_report;
use schemas::beacon::{BeaconError, RemoteEntropy, derive};
use schemas::clock::SharedClock;
use schemas::proto::{Request, request};
use schemas::region::{ChannelPlan, Region, RegionError, channel_plan};
use schemas::{Keypair, PublicKey};
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};
use tracing::{Instrument, debug, info, info_span, warn};

/// What an agent needs to know.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentConfig {
    /// Region whose channel plan beacons are derived from.
    pub region: Region,
    /// Asserted antenna gain, dBi x 10.
    pub antenna_gain_ddbi: i32,
    /// The oracle's UDP address.
    pub oracle_addr: SocketAddr,
    /// The oracle's pinned key (TLS and entropy signatures).
    pub oracle_key: PublicKey,
    /// Beacon segment length (at most one beacon per segment), on the agent's clock.
    pub beacon_interval: Duration,
    /// Whether to beacon at all (witnessing is always on).
    pub beacon_enabled: bool,
    /// Longest wait for an oracle answer, a connection handshake or a radio confirmation
    /// (real time).
    pub request_timeout: Duration,
    /// Seed of the beacon schedule and the local beacon entropy. `None` (every real agent)
    /// draws from the operating system; simulations set it so a scenario replays the same way.
    pub rng_seed: Option<u64>,
}

/// Why an agent could not run.
#[derive(Debug, thiserror::Error)]
pub enum AgentError {
    /// The region has no usable channel plan.
    #[error("region: {0}")]
    Region(#[from] RegionError),
    /// Beacons cannot be derived with this configuration (e.g. antenna gain above max EIRP).
    #[error("beacon configuration: {0}")]
    Beacon(#[from] BeaconError),
    /// The QUIC endpoint could not be made.
    #[error("transport: {0}")]
    Transport(#[from] transport::TlsError),
    /// The oracle client could not be made.
    #[error("oracle client: {0}")]
    Oracle(#[from] OracleError),
    /// The radio stopped for good.
    #[error("the radio stopped")]
    RadioStopped,
}

/// A transmission asked of the radio loop.
pub(crate) struct TxRequest {
    pub(crate) frame: TxFrame,
    /// The beacon payload, never to be witnessed by this agent.
    pub(crate) beacon_data: Vec<u8>,
    pub(crate) reply: oneshot::Sender<Result<TxDone, RadioError>>,
}

/// What the agent's parts share while it runs.
pub(crate) struct Context {
    pub(crate) config: AgentConfig,
    pub(crate) keypair: Keypair,
    pub(crate) clock: SharedClock,
    pub(crate) stats: Arc<AgentStats>,
    pub(crate) plan: &'static ChannelPlan,
    pub(crate) oracle: OracleClient,
    pub(crate) outbox: Arc<Outbox>,
    pub(crate) board: Arc<Board>,
}

impl Context {
    /// Queues a report for the oracle.
    pub(crate) fn queue(&self, request: Request) {
        let pushed = self.outbox.push(&request, self.clock.now_ms());
        if pushed.dropped > 0 {
            self.stats
                .reports_dropped
                .fetch_add(pushed.dropped, std::sync::atomic::Ordering::Relaxed);
            warn!(
                kind = kind(&request),
                dropped = pushed.dropped,
                "report queue full; oldest reports dropped"
            );
        }
        if self.outbox.is_durable() && !pushed.durable {
            AgentStats::bump(&self.stats.queue_write_errors);
        }
    }

    fn on_reception(&self, cache: &mut BeaconCache, frame: RxFrame) {
        AgentStats::bump(&self.stats.frames_received);
        match witness_report(&frame, cache, &self.keypair, self.clock.now_ms()) {
            Ok(report) => {
                info!(
                    frequency_hz = frame.frequency_hz,
                    rssi_ddbm = frame.rssi_ddbm,
                    snr_ddb = frame.snr_ddb,
                    "witnessed a beacon"
                );
                AgentStats::bump(&self.stats.witnesses_sent);
                self.queue(Request {
                    msg: Some(request::Msg::Witness(report)),
                });
            }
            Err(reason) => {
                AgentStats::bump(&self.stats.frames_ignored);
                debug!(%reason, "frame not witnessed");
            }
        }
    }
}

/// One hotspot agent.
#[derive(Debug)]
pub struct Agent {
    config: AgentConfig,
    keypair: Keypair,
    clock: SharedClock,
    stats: Arc<AgentStats>,
    outbox: Arc<Outbox>,
    board: Arc<Board>,
}

impl Agent {
    /// An agent for the hotspot `keypair`, reading time from `clock`.
    pub fn new(config: AgentConfig, keypair: Keypair, clock: SharedClock) -> Self {
        Self {
            config,
            keypair,
            clock,
            stats: Arc::default(),
            outbox: Arc::new(Outbox::new(OUTBOX_CAPACITY)),
            board: Arc::default(),
        }
    }

    /// Uses `outbox` (e.g. a durable one, [`Outbox::open`]) instead of an in-memory outbox of
    /// [`OUTBOX_CAPACITY`] reports.
    pub fn with_outbox(mut self, outbox: Arc<Outbox>) -> Self {
        self.outbox = outbox;
        self
    }

    /// The agent's report queue.
    pub fn outbox(&self) -> Arc<Outbox> {
        self.outbox.clone()
    }

    /// The agent's live state (oracle link, last beacon).
    pub fn board(&self) -> Arc<Board> {
        self.board.clone()
    }

    /// The agent's live counters.
    pub fn stats(&self) -> Arc<AgentStats> {
        self.stats.clone()
    }

    /// Runs until `shutdown` completes (then returns `Ok`) or the radio stops. At shutdown the
    /// radio and the beaconer stop at once and queued reports get up to one request timeout to
    /// be delivered; what is still queued after that is lost with an in-memory outbox and
    /// delivered by the next run with a durable one.
    pub async fn run<R: Radio>(
        self,
        radio: R,
        shutdown: impl Future<Output = ()>,
    ) -> Result<(), AgentError> {
        let plan = channel_plan(self.config.region)?;
        // Fails early on an impossible gain instead of at every beacon.
        derive(
            RemoteEntropy {
                data: &[0; 32],
                timestamp_ms: 0,
                version: 0,
            },
            &[0; 4],
            plan,
            self.config.antenna_gain_ddbi,
        )?;
        let endpoint = transport::client_endpoint()?;
        let oracle = OracleClient::new(
            endpoint.clone(),
            self.config.oracle_addr,
            self.config.oracle_key,
            self.config.request_timeout,
        )?
        .with_stats(self.stats.clone())
        .with_board(self.board.clone(), self.clock.clone());
        let span = info_span!("agent", hotspot = %self.keypair.public());
        let ctx = Context {
            config: self.config,
            keypair: self.keypair,
            clock: self.clock,
            stats: self.stats,
            plan,
            oracle,
            outbox: self.outbox,
            board: self.board,
        };
        let result = run_parts(&ctx, radio, shutdown).instrument(span).await;
        ctx.oracle.close().await;
        endpoint.close(0u32.into(), b"agent stopped");
        result
    }
}

async fn run_parts<R: Radio>(
    ctx: &Context,
    radio: R,
    shutdown: impl Future<Output = ()>,
) -> Result<(), AgentError> {
    info!(region = %ctx.config.region, oracle = %ctx.config.oracle_addr, "agent started");
    let (transmitter, tx_requests) = mpsc::channel(1);
    let delivery = deliver(&ctx.outbox, &ctx.oracle, &ctx.stats, || ctx.clock.now_ms());
    tokio::pin!(delivery);
    let (result, stopping) = tokio::select! {
        result = radio_loop(ctx, radio, tx_requests) => (result, false),
        () = Beaconer::new(ctx, transmitter).run() => (Ok(()), false),
        () = &mut delivery => (Ok(()), false),
        () = shutdown => (Ok(()), true),
    };
    if stopping && !ctx.outbox.is_empty() {
        // Radio and beacons have stopped; the request in flight and what is queued get one
        // request timeout to be answered, so an oracle that stored a report also acknowledges
        // it to us. What is left stays in a durable outbox for the next run.
        info!(
            queued_reports = ctx.outbox.len(),
            grace = ?ctx.config.request_timeout,
            "agent stopping; delivering what is queued"
        );
        let drained = async {
            while !ctx.outbox.is_empty() {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        };
        tokio::select! {
            () = &mut delivery => {}
            () = drained => {}
            () = tokio::time::sleep(ctx.config.request_timeout) => {}
        }
    }
    info!(unsent_reports = ctx.outbox.len(), "agent stopped");
    result
}

/// Owns the radio: hands received frames to the witness path and performs transmissions.
async fn radio_loop<R: Radio>(
    ctx: &Context,
    mut radio: R,
    mut tx_requests: mpsc::Receiver<TxRequest>,
) -> Result<(), AgentError> {
    let mut cache = BeaconCache::new();
    loop {
        tokio::select! {
            frame = radio.recv() => ctx.on_reception(&mut cache, frame.ok_or(AgentError::RadioStopped)?),
            Some(request) = tx_requests.recv() => {
                cache.insert(&request.beacon_data);
                let timeout = ctx.config.request_timeout;
                let done = tokio::time::timeout(timeout, radio.transmit(request.frame))
                    .await
                    .unwrap_or(Err(RadioError::Timeout(timeout)));
                let _ = request.reply.send(done);
            }
        }
    }
}
