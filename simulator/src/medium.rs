//! The simulated radio medium as a QUIC service.
//!
//! Each hotspot agent connects once and opens one bidirectional stream; both directions carry
//! length-delimited protobuf frames of at most [`frame::MAX_FRAME_BYTES`]. The agent sends a
//! signed `MediumUp{hello}` (its key must be one of the medium's [`Node`]s), then
//! `MediumUp{transmit}` frames. The medium answers each transmit, in order, with a
//! `MediumDown{tx_done}`, and sends every other connected node that demodulates the packet a
//! `MediumDown{reception}`.
//!
//! Who hears what is decided by [`air::Air`], a deterministic core over the radio model with
//! one seeded RNG. The radio model is drawn for every node in range, connected or not, in key
//! order, so outcomes depend only on the order of transmissions, not on who happens to be
//! connected; a node without a connection simply receives nothing.
//!
//! # Layout
//! - [`air`]: the pure core: links, draws, timestamps and `tmst` counters.
//! - [`frame`]: length-delimited framing with a size cap.
//! - [`session`]: one agent's connection.
//! - [`truth`]: the [`TruthBook`] of every transmission (read only by simulated adversaries).

use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use schemas::PublicKey;
use schemas::clock::SharedClock;
use schemas::proto::{MediumDown, medium_down};
use serde::Serialize;
use tokio::sync::mpsc::{self, error::TrySendError};
use tokio::task::JoinSet;
use tracing::{info, warn};

use crate::radio_model::RadioParams;

pub mod air;
pub mod frame;
pub mod session;
pub mod truth;

use air::{Air, Transmit};
pub use truth::{Transmission, TruthBook};

/// A node of the medium: a hotspot's key and its true (not asserted) antenna.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    /// The hotspot's public key; its agent signs the hello with it.
    pub key: PublicKey,
    /// True latitude, degrees.
    pub lat: f64,
    /// True longitude, degrees.
    pub lng: f64,
    /// Antenna gain, dBi.
    pub gain_dbi: f64,
    /// Antenna elevation above ground, metres (carried for the model; distances are
    /// great-circle between the positions).
    pub elevation_m: f64,
}

/// Application close codes the medium sends to agents.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u32)]
pub enum CloseCode {
    /// The agent finished its stream, or the medium is shutting down.
    Normal = 0,
    /// Malformed, oversized or out-of-order input.
    ProtocolError = 1,
    /// The hello's signature does not verify or its key is not a node.
    Refused = 2,
    /// Another connection said hello with the same key.
    Superseded = 3,
    /// The agent did not read its messages and its queue filled up.
    SlowReader = 4,
}

/// Counters of what the medium did (`serde::Serialize` for reports).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct MediumStats {
    /// Transmissions accepted.
    pub transmissions: u64,
    /// Receptions sent to a connected node.
    pub receptions_delivered: u64,
    /// Nodes in range whose draw fell below the demodulation floor.
    pub receptions_lost_below_sensitivity: u64,
    /// Receptions the model delivered to a node that was not connected.
    pub receptions_missed_disconnected: u64,
    /// Connections refused at the hello (bad signature or unknown key).
    pub connections_refused: u64,
    /// Per node, by key.
    pub nodes: BTreeMap<PublicKey, NodeStats>,
}

/// Counters of one node.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct NodeStats {
    /// Transmissions it made.
    pub transmissions: u64,
    /// Receptions delivered to it.
    pub receptions: u64,
    /// Whether it is connected now.
    pub connected: bool,
}

/// The radio medium shared by every agent connection.
#[derive(Debug)]
pub struct Medium {
    clock: SharedClock,
    state: Mutex<State>,
    next_connection: AtomicU64,
    truth: TruthBook,
}

#[derive(Debug)]
struct State {
    air: Air,
    peers: HashMap<PublicKey, Peer>,
    stats: MediumStats,
}

#[derive(Debug)]
struct Peer {
    id: u64,
    connection: quinn::Connection,
    outbox: mpsc::Sender<MediumDown>,
}

impl Medium {
    /// A medium over `nodes` with the radio model `params`; every random draw (per-link
    /// shadowing, per-packet draws, `tmst` offsets) derives from `seed`. A key listed twice
    /// keeps its last entry.
    pub fn new(params: RadioParams, nodes: Vec<Node>, clock: SharedClock, seed: u64) -> Self {
        let air = Air::new(params, nodes, seed, clock.now_ns());
        let stats = MediumStats {
            nodes: air.keys().map(|k| (*k, NodeStats::default())).collect(),
            ..MediumStats::default()
        };
        let state = State {
            air,
            peers: HashMap::new(),
            stats,
        };
        Self {
            clock,
            state: Mutex::new(state),
            next_connection: AtomicU64::new(0),
            truth: TruthBook::new(),
        }
    }

    /// Accepts agents on `endpoint` until `shutdown` completes, then closes every connection
    /// (code [`CloseCode::Normal`]) and waits for their tasks and the endpoint to finish.
    ///
    /// The caller binds the endpoint (for example on `127.0.0.1:0` with
    /// `transport::server_config(&identity, transport::ALPN_MEDIUM)`).
    pub async fn serve(
        self: Arc<Self>,
        endpoint: quinn::Endpoint,
        shutdown: impl Future<Output = ()>,
    ) {
        let mut sessions = JoinSet::new();
        tokio::pin!(shutdown);
        loop {
            tokio::select! {
                () = &mut shutdown => break,
                incoming = endpoint.accept() => match incoming {
                    Some(incoming) => {
                        sessions.spawn(session::run(Arc::clone(&self), incoming));
                    }
                    None => break,
                },
                Some(done) = sessions.join_next(), if !sessions.is_empty() => log_panic(done),
            }
        }
        info!("medium shutting down");
        endpoint.close(CloseCode::Normal.into(), b"medium shutting down");
        while let Some(done) = sessions.join_next().await {
            log_panic(done);
        }
        endpoint.wait_idle().await;
    }

    /// The book of every transmission, filled before its receptions are delivered (see
    /// [`truth`]: it models a well-informed attacker).
    pub fn truth_book(&self) -> TruthBook {
        self.truth.clone()
    }

    /// A snapshot of the counters.
    pub fn stats(&self) -> MediumStats {
        let state = self.lock();
        let mut stats = state.stats.clone();
        for (key, node) in &mut stats.nodes {
            node.connected = state.peers.contains_key(key);
        }
        stats
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // Nothing panics while holding the lock; recover the data regardless.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn knows(&self, key: &PublicKey) -> bool {
        self.lock().air.knows(key)
    }

    fn count_refused(&self) {
        self.lock().stats.connections_refused += 1;
    }

    /// Routes messages for `key` to `outbox`; a previous connection of the same key is closed.
    fn attach(
        &self,
        key: PublicKey,
        connection: quinn::Connection,
        outbox: mpsc::Sender<MediumDown>,
    ) -> u64 {
        let id = self.next_connection.fetch_add(1, Ordering::Relaxed);
        let previous = self.lock().peers.insert(
            key,
            Peer {
                id,
                connection,
                outbox,
            },
        );
        if let Some(previous) = previous {
            warn!(hotspot = %key, "new medium connection supersedes the previous one");
            previous.connection.close(
                CloseCode::Superseded.into(),
                b"superseded by a new connection",
            );
        }
        id
    }

    /// Stops routing to connection `id` of `key` (if it is still the current one).
    fn detach(&self, key: &PublicKey, id: u64) {
        let mut state = self.lock();
        if state.peers.get(key).is_some_and(|p| p.id == id) {
            state.peers.remove(key);
        }
    }

    /// `from` transmits now: answers it and sends the receptions.
    fn transmit(&self, from: &PublicKey, transmit: &Transmit) {
        let now_ns = self.clock.now_ns();
        let mut state = self.lock();
        let Some(outcome) = state.air.transmit(from, transmit, now_ns) else {
            return;
        };
        self.truth.record(
            transmit.payload(),
            Transmission {
                transmitter: *from,
                tx_time_ns: outcome.tx_done.radio_timestamp_ns,
                tx_power_ddbm: outcome.tx_done.tx_power_ddbm,
            },
        );
        let state = &mut *state;
        state.stats.transmissions += 1;
        bump(&mut state.stats, from, |n| n.transmissions += 1);
        state.stats.receptions_lost_below_sensitivity += outcome.lost.len() as u64;
        let done = MediumDown {
            msg: Some(medium_down::Msg::TxDone(outcome.tx_done)),
        };
        deliver(&mut state.peers, from, done);
        for (to, reception) in outcome.heard {
            let down = MediumDown {
                msg: Some(medium_down::Msg::Reception(reception)),
            };
            if deliver(&mut state.peers, &to, down) {
                state.stats.receptions_delivered += 1;
                bump(&mut state.stats, &to, |n| n.receptions += 1);
            } else {
                state.stats.receptions_missed_disconnected += 1;
            }
        }
    }
}

/// Queues `down` for `to`; false if `to` has no live connection. A peer whose queue is full is
/// not reading: it is disconnected rather than silently losing messages.
fn deliver(peers: &mut HashMap<PublicKey, Peer>, to: &PublicKey, down: MediumDown) -> bool {
    let Some(peer) = peers.get(to) else {
        return false;
    };
    match peer.outbox.try_send(down) {
        Ok(()) => true,
        Err(TrySendError::Closed(_)) => {
            peers.remove(to);
            false
        }
        Err(TrySendError::Full(_)) => {
            warn!(hotspot = %to, "agent is not reading the medium; disconnecting it");
            peer.connection
                .close(CloseCode::SlowReader.into(), b"not reading");
            peers.remove(to);
            false
        }
    }
}

fn bump(stats: &mut MediumStats, key: &PublicKey, f: impl FnOnce(&mut NodeStats)) {
    if let Some(node) = stats.nodes.get_mut(key) {
        f(node);
    }
}

fn log_panic(done: Result<(), tokio::task::JoinError>) {
    if let Err(error) = done {
        warn!(%error, "medium connection task failed");
    }
}
