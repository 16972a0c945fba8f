//! [`SimRadio`]: a radio that is a QUIC client of the simulator's radio medium.
//!
//! Protocol (one bidirectional stream per connection, length-delimited protobuf):
//! the agent sends `MediumUp{hello}` (a [`MediumHello`] signed by the hotspot key), then
//! `MediumUp{transmit}` per transmission; the medium sends `MediumDown{tx_done}` answering the
//! transmissions in order and `MediumDown{reception}` for every frame the hotspot hears.
//! When the link drops or the medium sends something malformed, the actor logs it, fails the
//! transmissions in flight and reconnects with backoff.

use super::framing::{FramingError, next_message};
use super::{Radio, RadioError, RxFrame, TxDone, TxFrame};
use crate::backoff::Backoff;
use prost::Message;
use schemas::clock::SharedClock;
use schemas::proto::{
    MediumDown, MediumHello, MediumReception, MediumTransmit, MediumUp, medium_down, medium_up,
};
use schemas::sign::SingleSigned;
use schemas::{Keypair, PublicKey};
use std::collections::VecDeque;
use std::net::SocketAddr;
use tokio::sync::{mpsc, oneshot};
use tracing::{Instrument, debug, info, info_span, warn};

/// Largest message accepted from the medium.
pub const MAX_MEDIUM_MESSAGE_BYTES: usize = 4096;
/// Receptions buffered for the agent before new ones are dropped.
const RECEPTION_BUFFER: usize = 256;
/// TLS server name the medium's certificate is made for.
const SERVER_NAME: &str = "coverage-proof";

/// Where the medium is and the key it must present.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SimRadioConfig {
    /// UDP address of the medium.
    pub address: SocketAddr,
    /// The medium's pinned key.
    pub medium_key: PublicKey,
}

/// Why a [`SimRadio`] could not start.
#[derive(Debug, thiserror::Error)]
pub enum SimRadioError {
    /// The QUIC client configuration or endpoint could not be made.
    #[error("radio medium client: {0}")]
    Transport(#[from] transport::TlsError),
}

/// Why a session with the medium ended.
#[derive(Debug, thiserror::Error)]
enum SessionError {
    #[error("cannot connect: {0}")]
    Connect(#[from] quinn::ConnectError),
    #[error("connection: {0}")]
    Connection(#[from] quinn::ConnectionError),
    #[error("write: {0}")]
    Write(#[from] quinn::WriteError),
    #[error("read: {0}")]
    Read(#[from] quinn::ReadError),
    #[error("the medium closed the stream")]
    Finished,
    #[error("malformed message from the medium: {0}")]
    Framing(#[from] FramingError),
    #[error("undecodable message from the medium: {0}")]
    Decode(#[from] prost::DecodeError),
}

/// How a session ended without error.
enum Stop {
    /// The [`SimRadio`] handle was dropped.
    HandleDropped,
}

struct TxCommand {
    frame: TxFrame,
    reply: oneshot::Sender<Result<TxDone, RadioError>>,
}

/// A handle to the actor that owns the link to the simulated medium. Dropping it stops the actor.
#[derive(Debug)]
pub struct SimRadio {
    commands: mpsc::Sender<TxCommand>,
    receptions: mpsc::Receiver<RxFrame>,
}

impl std::fmt::Debug for TxCommand {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TxCommand")
            .field("frame", &self.frame)
            .finish()
    }
}

impl SimRadio {
    /// Starts a radio on its own QUIC endpoint. Connecting happens in the background.
    pub fn connect(
        config: SimRadioConfig,
        keypair: Keypair,
        clock: SharedClock,
    ) -> Result<Self, SimRadioError> {
        Self::with_endpoint(transport::client_endpoint()?, config, keypair, clock)
    }

    /// Starts a radio that connects through `endpoint`. Must be called within a tokio runtime.
    pub fn with_endpoint(
        endpoint: quinn::Endpoint,
        config: SimRadioConfig,
        keypair: Keypair,
        clock: SharedClock,
    ) -> Result<Self, SimRadioError> {
        let client = transport::client_config(config.medium_key, transport::ALPN_MEDIUM)?;
        let (commands, command_rx) = mpsc::channel(16);
        let (reception_tx, receptions) = mpsc::channel(RECEPTION_BUFFER);
        let span = info_span!("sim_radio", hotspot = %keypair.public(), medium = %config.address);
        let actor = Actor {
            endpoint,
            client,
            address: config.address,
            keypair,
            clock,
            commands: command_rx,
            receptions: reception_tx,
            backoff: Backoff::default(),
        };
        tokio::spawn(actor.run().instrument(span));
        Ok(Self {
            commands,
            receptions,
        })
    }
}

impl Radio for SimRadio {
    async fn transmit(&mut self, frame: TxFrame) -> Result<TxDone, RadioError> {
        let (reply, answer) = oneshot::channel();
        self.commands
            .send(TxCommand { frame, reply })
            .await
            .map_err(|_| RadioError::Stopped)?;
        answer.await.map_err(|_| RadioError::Disconnected)?
    }

    async fn recv(&mut self) -> Option<RxFrame> {
        self.receptions.recv().await
    }
}

struct Actor {
    endpoint: quinn::Endpoint,
    client: quinn::ClientConfig,
    address: SocketAddr,
    keypair: Keypair,
    clock: SharedClock,
    commands: mpsc::Receiver<TxCommand>,
    receptions: mpsc::Sender<RxFrame>,
    backoff: Backoff,
}

impl Actor {
    async fn run(mut self) {
        loop {
            match self.session().await {
                Ok(Stop::HandleDropped) => return,
                Err(error) => warn!(%error, "radio medium link lost; reconnecting"),
            }
            let delay = self.backoff.next_delay();
            if self.refuse_transmissions_for(delay).await.is_some() {
                return;
            }
        }
    }

    /// Waits `delay`, failing every transmission asked for meanwhile.
    async fn refuse_transmissions_for(&mut self, delay: std::time::Duration) -> Option<Stop> {
        let sleep = tokio::time::sleep(delay);
        tokio::pin!(sleep);
        loop {
            tokio::select! {
                () = &mut sleep => return None,
                command = self.commands.recv() => match command {
                    None => return Some(Stop::HandleDropped),
                    Some(command) => {
                        let _ = command.reply.send(Err(RadioError::NotConnected));
                    }
                },
            }
        }
    }

    fn hello(&self) -> MediumUp {
        let mut hello = MediumHello {
            timestamp_ms: self.clock.now_ms(),
            ..Default::default()
        };
        hello.sign_with(&self.keypair);
        MediumUp {
            msg: Some(medium_up::Msg::Hello(hello)),
        }
    }

    async fn session(&mut self) -> Result<Stop, SessionError> {
        let connection = self
            .endpoint
            .connect_with(self.client.clone(), self.address, SERVER_NAME)?
            .await?;
        let (mut send, mut recv) = connection.open_bi().await?;
        send.write_all(&self.hello().encode_length_delimited_to_vec())
            .await?;
        info!("connected to the radio medium");
        self.backoff.reset();
        let mut pending = VecDeque::new();
        let mut buf = Vec::with_capacity(MAX_MEDIUM_MESSAGE_BYTES);
        let mut chunk = vec![0u8; MAX_MEDIUM_MESSAGE_BYTES];
        loop {
            tokio::select! {
                command = self.commands.recv() => {
                    let Some(command) = command else {
                        connection.close(0u32.into(), b"radio stopped");
                        return Ok(Stop::HandleDropped);
                    };
                    send.write_all(&transmit_message(&command.frame).encode_length_delimited_to_vec()).await?;
                    pending.push_back(command.reply);
                }
                read = recv.read(&mut chunk) => {
                    let n = read?.ok_or(SessionError::Finished)?;
                    buf.extend_from_slice(&chunk[..n]);
                    if let Some(stop) = self.dispatch(&mut buf, &mut pending)? {
                        return Ok(stop);
                    }
                }
            }
        }
    }

    /// Handles every complete message in `buf`.
    fn dispatch(
        &mut self,
        buf: &mut Vec<u8>,
        pending: &mut VecDeque<oneshot::Sender<Result<TxDone, RadioError>>>,
    ) -> Result<Option<Stop>, SessionError> {
        while let Some((header, body)) = next_message(buf, MAX_MEDIUM_MESSAGE_BYTES)? {
            let message = MediumDown::decode(&buf[header..header + body])?;
            buf.drain(..header + body);
            match message.msg {
                Some(medium_down::Msg::TxDone(done)) => match pending.pop_front() {
                    Some(reply) => {
                        let _ = reply.send(Ok(TxDone {
                            tx_power_ddbm: done.tx_power_ddbm,
                            tmst: done.tmst,
                            radio_timestamp_ns: done.radio_timestamp_ns,
                        }));
                    }
                    None => {
                        warn!("tx_done from the medium without a transmission in flight; ignored")
                    }
                },
                Some(medium_down::Msg::Reception(reception)) => {
                    if let Some(stop) = self.deliver(rx_frame(reception)) {
                        return Ok(Some(stop));
                    }
                }
                None => debug!("empty message from the medium; ignored"),
            }
        }
        Ok(None)
    }

    fn deliver(&self, frame: RxFrame) -> Option<Stop> {
        match self.receptions.try_send(frame) {
            Ok(()) => None,
            Err(mpsc::error::TrySendError::Full(_)) => {
                warn!("reception buffer full; frame dropped");
                None
            }
            Err(mpsc::error::TrySendError::Closed(_)) => Some(Stop::HandleDropped),
        }
    }
}

fn transmit_message(frame: &TxFrame) -> MediumUp {
    MediumUp {
        msg: Some(medium_up::Msg::Transmit(MediumTransmit {
            payload: frame.payload.clone(),
            frequency_hz: frame.frequency_hz,
            datarate: frame.datarate as i32,
            tx_power_ddbm: frame.power_ddbm,
        })),
    }
}

fn rx_frame(reception: MediumReception) -> RxFrame {
    RxFrame {
        datarate: reception.datarate(),
        payload: reception.payload,
        frequency_hz: reception.frequency_hz,
        rssi_ddbm: reception.rssi_ddbm,
        snr_ddb: reception.snr_ddb,
        tmst: reception.tmst,
        radio_timestamp_ns: reception.radio_timestamp_ns,
    }
}
