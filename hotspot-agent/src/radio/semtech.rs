//! [`SemtechRadio`]: a LoRa concentrator behind a Semtech UDP packet forwarder (`lora_pkt_fwd`
//! and its forks), speaking GWMP ([`super::gwmp`]) on a UDP socket the forwarder sends to
//! (`serv_port_up`/`serv_port_down`, default `127.0.0.1:1680`).
//!
//! An actor owns the socket. `PUSH_DATA` is acknowledged and every CRC-valid LoRa `rxpk` is
//! handed to the agent; `PULL_DATA` is acknowledged and tells where downlinks go; a
//! transmission is a `PULL_RESP` with a fresh token, confirmed by the `TX_ACK` carrying that
//! token (a v1 forwarder sends no `TX_ACK`, so there the `PULL_RESP` itself counts). Garbage
//! datagrams are counted and logged, never fatal.

use super::gwmp::{self, Header, TxAck, TxOutcome, Upstream};
use super::{Radio, RadioError, RxFrame, TxDone, TxFrame};
use crate::stats::{AgentStats, counters};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::net::UdpSocket;
use tokio::sync::{mpsc, oneshot};
use tracing::{Instrument, debug, info, info_span, warn};

/// Largest datagram read (GWMP datagrams are at most a few kB).
const MAX_DATAGRAM_BYTES: usize = 65_535;
/// Receptions buffered for the agent before new ones are dropped.
const RECEPTION_BUFFER: usize = 256;

counters! {
    /// Live counters of a [`SemtechRadio`].
    GwmpCounters,
    /// A copy of [`GwmpCounters`] at one moment.
    GwmpCountersSnapshot {
    /// `PUSH_DATA` datagrams received (acknowledged).
    push_data,
    /// `PULL_DATA` datagrams received (acknowledged).
    pull_data,
    /// `rxpk` objects received.
    rxpk,
    /// `rxpk` with a failed or missing CRC.
    rxpk_crc_bad,
    /// `rxpk` not usable: not LoRa, or a field missing or malformed.
    rxpk_invalid,
    /// Receptions dropped because the agent did not keep up.
    rxpk_dropped,
    /// Datagrams that are not valid GWMP (too short, bad version or identifier, bad JSON).
    garbage,
    /// Valid datagrams that were not expected (a `TX_ACK` for no transmission in flight).
    unexpected,
    /// `PULL_RESP` sent (transmissions asked of the forwarder).
    tx_requested,
    /// Transmissions confirmed (`TX_ACK` without error, or a v1 forwarder).
    tx_ok,
    /// ... of which the forwarder changed the power.
    tx_power_adjusted,
    /// Transmissions the forwarder refused (`TX_ACK` error).
    tx_refused,
    /// `TX_ACK`s of no known shape (taken as sent).
    tx_ack_odd,
    /// Transmissions asked before any `PULL_DATA` told where the forwarder is.
    tx_no_forwarder,
}}

struct TxCommand {
    frame: TxFrame,
    reply: oneshot::Sender<Result<TxDone, RadioError>>,
}

/// A handle to the actor that owns the GWMP socket. Dropping it stops the actor.
#[derive(Debug)]
pub struct SemtechRadio {
    commands: mpsc::Sender<TxCommand>,
    receptions: mpsc::Receiver<RxFrame>,
    counters: Arc<GwmpCounters>,
    local_addr: SocketAddr,
}

impl SemtechRadio {
    /// Binds `listen` and starts the actor. Must be called within a tokio runtime.
    pub async fn bind(listen: SocketAddr) -> std::io::Result<Self> {
        Self::with_socket(UdpSocket::bind(listen).await?)
    }

    /// Starts the actor on an already bound socket (tests bind `127.0.0.1:0`).
    pub fn with_socket(socket: UdpSocket) -> std::io::Result<Self> {
        let local_addr = socket.local_addr()?;
        let (commands, command_rx) = mpsc::channel(4);
        let (reception_tx, receptions) = mpsc::channel(RECEPTION_BUFFER);
        let counters = Arc::new(GwmpCounters::default());
        let actor = Actor {
            socket,
            commands: command_rx,
            receptions: reception_tx,
            counters: counters.clone(),
            forwarder: None,
            pending: HashMap::new(),
        };
        tokio::spawn(
            actor
                .run()
                .instrument(info_span!("semtech", listen = %local_addr)),
        );
        info!(listen = %local_addr, "waiting for the packet forwarder (GWMP)");
        Ok(Self {
            commands,
            receptions,
            counters,
            local_addr,
        })
    }

    /// The radio's counters.
    pub fn counters(&self) -> Arc<GwmpCounters> {
        self.counters.clone()
    }

    /// The UDP address the forwarder must send to.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }
}

impl Radio for SemtechRadio {
    async fn transmit(&mut self, frame: TxFrame) -> Result<TxDone, RadioError> {
        let (reply, answer) = oneshot::channel();
        self.commands
            .send(TxCommand { frame, reply })
            .await
            .map_err(|_| RadioError::Stopped)?;
        answer.await.map_err(|_| RadioError::Stopped)?
    }

    async fn recv(&mut self) -> Option<RxFrame> {
        self.receptions.recv().await
    }
}

/// Where downlinks go: the source of the last `PULL_DATA`.
#[derive(Debug, Clone, Copy)]
struct Forwarder {
    addr: SocketAddr,
    version: u8,
}

struct Pending {
    reply: oneshot::Sender<Result<TxDone, RadioError>>,
    power_ddbm: i32,
}

struct Actor {
    socket: UdpSocket,
    commands: mpsc::Receiver<TxCommand>,
    receptions: mpsc::Sender<RxFrame>,
    counters: Arc<GwmpCounters>,
    forwarder: Option<Forwarder>,
    pending: HashMap<u16, Pending>,
}

impl Actor {
    async fn run(mut self) {
        let mut buf = vec![0u8; MAX_DATAGRAM_BYTES];
        loop {
            tokio::select! {
                received = self.socket.recv_from(&mut buf) => match received {
                    Ok((n, from)) => self.on_datagram(&buf[..n], from).await,
                    // e.g. ICMP port unreachable reported on a later call; keep serving.
                    Err(error) => debug!(%error, "UDP receive error"),
                },
                command = self.commands.recv() => match command {
                    Some(command) => self.transmit(command).await,
                    None => return,
                },
            }
        }
    }

    async fn on_datagram(&mut self, datagram: &[u8], from: SocketAddr) {
        let upstream = match gwmp::decode(datagram) {
            Ok(upstream) => upstream,
            Err(error) => {
                AgentStats::bump(&self.counters.garbage);
                warn!(%from, %error, len = datagram.len(), "garbage datagram ignored");
                return;
            }
        };
        match upstream {
            Upstream::PushData { header, rxpk } => {
                AgentStats::bump(&self.counters.push_data);
                self.reply(&gwmp::push_ack(&header), from).await;
                for packet in &rxpk {
                    self.on_rxpk(packet);
                }
            }
            Upstream::PullData { header } => {
                AgentStats::bump(&self.counters.pull_data);
                self.on_pull_data(&header, from);
                self.reply(&gwmp::pull_ack(&header), from).await;
            }
            Upstream::TxAck { header, ack } => self.on_tx_ack(&header, ack),
        }
    }

    fn on_pull_data(&mut self, header: &Header, from: SocketAddr) {
        let known = self.forwarder.is_some_and(|f| f.addr == from);
        if !known {
            info!(forwarder = %from, gateway_id = %hex::encode(header.gateway_id), version = header.version, "packet forwarder connected");
        }
        self.forwarder = Some(Forwarder {
            addr: from,
            version: header.version,
        });
    }

    fn on_rxpk(&self, packet: &serde_json::Value) {
        AgentStats::bump(&self.counters.rxpk);
        match gwmp::rxpk::rx_frame(packet) {
            Ok(frame) => match self.receptions.try_send(frame) {
                Ok(()) => {}
                Err(mpsc::error::TrySendError::Full(_)) => {
                    AgentStats::bump(&self.counters.rxpk_dropped);
                    warn!("reception buffer full; frame dropped");
                }
                Err(mpsc::error::TrySendError::Closed(_)) => {}
            },
            Err(gwmp::rxpk::RxpkSkip::Crc(stat)) => {
                AgentStats::bump(&self.counters.rxpk_crc_bad);
                debug!(stat, "rxpk with bad CRC ignored");
            }
            Err(reason) => {
                AgentStats::bump(&self.counters.rxpk_invalid);
                debug!(%reason, "rxpk ignored");
            }
        }
    }

    fn on_tx_ack(&mut self, header: &Header, ack: TxAck) {
        let Some(pending) = self.pending.remove(&header.token) else {
            AgentStats::bump(&self.counters.unexpected);
            warn!(
                token = header.token,
                "TX_ACK for no transmission in flight ignored"
            );
            return;
        };
        if ack.odd {
            AgentStats::bump(&self.counters.tx_ack_odd);
            warn!(
                ?ack,
                "TX_ACK of an unknown shape; taking the transmission as sent"
            );
        }
        let done = |power_ddbm| TxDone {
            tx_power_ddbm: power_ddbm,
            tmst: ack.tmst.unwrap_or(0),
            radio_timestamp_ns: 0,
        };
        let result = match &ack.outcome {
            TxOutcome::Sent => Ok(done(pending.power_ddbm)),
            TxOutcome::PowerAdjusted { dbm: Some(dbm) } => {
                AgentStats::bump(&self.counters.tx_power_adjusted);
                info!(
                    requested_ddbm = pending.power_ddbm,
                    used_dbm = dbm,
                    "forwarder adjusted the transmit power"
                );
                Ok(done(dbm.saturating_mul(10)))
            }
            TxOutcome::PowerAdjusted { dbm: None } => Err(RadioError::Refused(
                "power adjusted to an unknown value (TX_POWER warning without value)".into(),
            )),
            TxOutcome::Refused(code) => Err(RadioError::Refused(format!("TX_ACK error {code}"))),
        };
        match &result {
            Ok(_) => AgentStats::bump(&self.counters.tx_ok),
            Err(error) => {
                AgentStats::bump(&self.counters.tx_refused);
                warn!(%error, "transmission failed");
            }
        }
        let _ = pending.reply.send(result);
    }

    async fn transmit(&mut self, command: TxCommand) {
        self.pending.retain(|_, p| !p.reply.is_closed());
        let Some(forwarder) = self.forwarder else {
            AgentStats::bump(&self.counters.tx_no_forwarder);
            let _ = command.reply.send(Err(RadioError::NotConnected));
            return;
        };
        let mut token = rand::random::<u16>();
        while self.pending.contains_key(&token) {
            token = token.wrapping_add(1);
        }
        let datagram = gwmp::pull_resp(forwarder.version, token, &command.frame);
        if let Err(error) = self.socket.send_to(&datagram, forwarder.addr).await {
            warn!(%error, forwarder = %forwarder.addr, "cannot send PULL_RESP");
            let _ = command.reply.send(Err(RadioError::NotConnected));
            return;
        }
        AgentStats::bump(&self.counters.tx_requested);
        let power_ddbm = command.frame.power_ddbm;
        if forwarder.version == 1 {
            // Protocol v1 has no TX_ACK: the forwarder queued it, which is all we will know.
            AgentStats::bump(&self.counters.tx_ok);
            let done = TxDone {
                tx_power_ddbm: power_ddbm,
                tmst: 0,
                radio_timestamp_ns: 0,
            };
            let _ = command.reply.send(Ok(done));
            return;
        }
        let reply = command.reply;
        self.pending.insert(token, Pending { reply, power_ddbm });
    }

    async fn reply(&self, datagram: &[u8], to: SocketAddr) {
        if let Err(error) = self.socket.send_to(datagram, to).await {
            debug!(%error, %to, "cannot send ack");
        }
    }
}
