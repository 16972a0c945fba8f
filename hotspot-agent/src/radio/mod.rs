//! The radio boundary: what the agent needs from a LoRa concentrator.
//!
//! A [`Radio`] transmits a frame and confirms it ([`TxDone`]), and hands over the frames it
//! hears ([`RxFrame`]) one at a time. Implementations are expected to be actors: a task owns the
//! link to the hardware (or the simulated medium) and keeps buffering receptions while a
//! transmission is awaited. [`sim::SimRadio`] speaks to the simulator's radio medium over QUIC;
//! [`semtech::SemtechRadio`] to a Semtech UDP packet forwarder ([`gwmp`]: `PULL_RESP`/`TX_ACK`
//! for [`Radio::transmit`], `PUSH_DATA` `rxpk` for [`Radio::recv`]).

pub mod framing;
pub mod gwmp;
pub mod semtech;
pub mod sim;

use schemas::proto::DataRate;
use std::future::Future;

/// A frame to transmit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TxFrame {
    /// LoRa PHY payload.
    pub payload: Vec<u8>,
    /// Centre frequency, Hz.
    pub frequency_hz: u64,
    /// Spreading factor and bandwidth.
    pub datarate: DataRate,
    /// Requested conducted power, dBm x 10.
    pub power_ddbm: i32,
}

/// The radio's confirmation of a transmission.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TxDone {
    /// Conducted power actually used, dBm x 10 (the radio may have lowered it).
    pub tx_power_ddbm: i32,
    /// Concentrator microsecond counter at transmission.
    pub tmst: u32,
    /// GPS time of transmission in ns since the epoch; 0 when the radio has no GPS time.
    pub radio_timestamp_ns: u64,
}

/// A frame heard over the air (CRC ok).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RxFrame {
    /// LoRa PHY payload.
    pub payload: Vec<u8>,
    /// Centre frequency, Hz.
    pub frequency_hz: u64,
    /// Spreading factor and bandwidth.
    pub datarate: DataRate,
    /// RSSI, dBm x 10 (a packet forwarder's `rssis` when present, else `rssi`, times 10).
    pub rssi_ddbm: i32,
    /// SNR, dB x 10.
    pub snr_ddb: i32,
    /// Concentrator microsecond counter at reception.
    pub tmst: u32,
    /// GPS time of reception in ns since the epoch; 0 when unknown.
    pub radio_timestamp_ns: u64,
}

/// Why a transmission failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RadioError {
    /// The radio is not connected right now (it is reconnecting).
    #[error("radio not connected")]
    NotConnected,
    /// The link to the radio dropped before the transmission was confirmed.
    #[error("radio link lost before the transmission was confirmed")]
    Disconnected,
    /// The radio task has stopped for good.
    #[error("radio stopped")]
    Stopped,
    /// The radio did not confirm the transmission in time.
    #[error("no confirmation within {0:?}")]
    Timeout(std::time::Duration),
    /// The radio refused the transmission.
    #[error("transmission refused: {0}")]
    Refused(String),
}

/// A LoRa radio.
pub trait Radio: Send + 'static {
    /// Transmits `frame` now and waits for the radio's confirmation.
    fn transmit(
        &mut self,
        frame: TxFrame,
    ) -> impl Future<Output = Result<TxDone, RadioError>> + Send;

    /// The next frame heard, in order of reception; `None` once the radio has stopped for good.
    /// Must be cancel-safe (the agent polls it in a `select!`).
    fn recv(&mut self) -> impl Future<Output = Option<RxFrame>> + Send;
}
