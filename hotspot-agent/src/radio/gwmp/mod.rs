//! Semtech GWMP (the UDP protocol of `lora_pkt_fwd`, `PROTOCOL.TXT` v1 and v2), sans I/O:
//! decoding what a packet forwarder sends and encoding what the agent answers. No sockets and no
//! clocks here, so every odd datagram can be tested (and fuzzed) directly.
//!
//! Upstream (forwarder -> agent): `PUSH_DATA` (received packets, [`rxpk`]), `PULL_DATA`
//! (keep-alive that tells us where to send downlinks), `TX_ACK` (the outcome of a `PULL_RESP`,
//! [`txack`]). Downstream (agent -> forwarder): `PUSH_ACK`, `PULL_ACK`, `PULL_RESP` (a `txpk`).
//!
//! Every datagram starts with `version, token (2 bytes), identifier`; upstream ones continue with
//! the 8-byte gateway id and, for `PUSH_DATA`/`TX_ACK`, a JSON object (optionally
//! NUL-terminated).

pub mod rxpk;
pub mod txack;

use crate::radio::TxFrame;
use base64::Engine as _;
pub use txack::{TxAck, TxErrorCode, TxOutcome};

/// `PUSH_DATA` identifier.
pub const PUSH_DATA: u8 = 0x00;
/// `PUSH_ACK` identifier.
pub const PUSH_ACK: u8 = 0x01;
/// `PULL_DATA` identifier.
pub const PULL_DATA: u8 = 0x02;
/// `PULL_RESP` identifier.
pub const PULL_RESP: u8 = 0x03;
/// `PULL_ACK` identifier.
pub const PULL_ACK: u8 = 0x04;
/// `TX_ACK` identifier.
pub const TX_ACK: u8 = 0x05;
/// Bytes before the gateway id: version, token, identifier.
const PREFIX_LEN: usize = 4;
/// Gateway id (EUI-64) length.
const GATEWAY_ID_LEN: usize = 8;

/// Why a datagram is not a valid upstream GWMP message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GwmpError {
    /// Shorter than its header.
    #[error("datagram of {len} bytes is shorter than the {need}-byte header")]
    TooShort {
        /// Bytes received.
        len: usize,
        /// Bytes needed.
        need: usize,
    },
    /// Not protocol version 1 or 2.
    #[error("unsupported protocol version {0}")]
    Version(u8),
    /// Unknown identifier byte.
    #[error("unknown identifier {0:#04x}")]
    Identifier(u8),
    /// A downstream message (`PUSH_ACK`, `PULL_RESP`, `PULL_ACK`) sent to us.
    #[error("downstream message {0:#04x} sent to the agent")]
    Downstream(u8),
    /// The JSON part of a `PUSH_DATA` is not a JSON object.
    #[error("PUSH_DATA JSON: {0}")]
    Json(String),
}

/// The fixed part of an upstream datagram.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    /// Protocol version (1 or 2); answers use the same.
    pub version: u8,
    /// Token chosen by the sender (echoed in acks).
    pub token: u16,
    /// The gateway id.
    pub gateway_id: [u8; GATEWAY_ID_LEN],
}

/// A decoded upstream datagram.
#[derive(Debug, Clone, PartialEq)]
pub enum Upstream {
    /// Received packets (each still to be checked with [`rxpk::rx_frame`]).
    PushData {
        /// Header.
        header: Header,
        /// The `rxpk` array (empty when absent, e.g. a status-only datagram).
        rxpk: Vec<serde_json::Value>,
    },
    /// Keep-alive from the forwarder's downstream socket.
    PullData {
        /// Header.
        header: Header,
    },
    /// Outcome of a `PULL_RESP`.
    TxAck {
        /// Header (its token is the `PULL_RESP`'s).
        header: Header,
        /// What the forwarder said.
        ack: TxAck,
    },
}

impl Upstream {
    /// The datagram's header.
    pub fn header(&self) -> &Header {
        match self {
            Self::PushData { header, .. }
            | Self::PullData { header }
            | Self::TxAck { header, .. } => header,
        }
    }
}

/// Decodes one datagram received from a packet forwarder.
pub fn decode(datagram: &[u8]) -> Result<Upstream, GwmpError> {
    let too_short = |need| GwmpError::TooShort {
        len: datagram.len(),
        need,
    };
    let prefix = datagram.get(..PREFIX_LEN).ok_or(too_short(PREFIX_LEN))?;
    let version = prefix[0];
    if !(1..=2).contains(&version) {
        return Err(GwmpError::Version(version));
    }
    let token = u16::from_be_bytes([prefix[1], prefix[2]]);
    let identifier = prefix[3];
    match identifier {
        PUSH_DATA | PULL_DATA | TX_ACK => {}
        PUSH_ACK | PULL_RESP | PULL_ACK => return Err(GwmpError::Downstream(identifier)),
        other => return Err(GwmpError::Identifier(other)),
    }
    let id_end = PREFIX_LEN + GATEWAY_ID_LEN;
    let gateway_id: [u8; GATEWAY_ID_LEN] = datagram
        .get(PREFIX_LEN..id_end)
        .and_then(|id| id.try_into().ok())
        .ok_or(too_short(id_end))?;
    let header = Header {
        version,
        token,
        gateway_id,
    };
    let json = json_part(&datagram[id_end..]);
    Ok(match identifier {
        PUSH_DATA => Upstream::PushData {
            header,
            rxpk: push_data_rxpk(json)?,
        },
        PULL_DATA => Upstream::PullData { header },
        _ => Upstream::TxAck {
            header,
            ack: txack::parse(json),
        },
    })
}

/// The JSON text of a datagram: trailing NUL bytes and whitespace removed.
fn json_part(bytes: &[u8]) -> &[u8] {
    let end = bytes
        .iter()
        .rposition(|b| *b != 0 && !b.is_ascii_whitespace())
        .map_or(0, |i| i + 1);
    &bytes[..end]
}

fn push_data_rxpk(json: &[u8]) -> Result<Vec<serde_json::Value>, GwmpError> {
    let value: serde_json::Value =
        serde_json::from_slice(json).map_err(|e| GwmpError::Json(e.to_string()))?;
    let serde_json::Value::Object(mut object) = value else {
        return Err(GwmpError::Json("not a JSON object".into()));
    };
    match object.remove("rxpk") {
        Some(serde_json::Value::Array(rxpk)) => Ok(rxpk),
        None => Ok(Vec::new()),
        Some(_) => Err(GwmpError::Json("\"rxpk\" is not an array".into())),
    }
}

/// `PUSH_ACK` for a `PUSH_DATA` with `header`.
pub fn push_ack(header: &Header) -> [u8; 4] {
    let [hi, lo] = header.token.to_be_bytes();
    [header.version, hi, lo, PUSH_ACK]
}

/// `PULL_ACK` for a `PULL_DATA` with `header`.
pub fn pull_ack(header: &Header) -> [u8; 4] {
    let [hi, lo] = header.token.to_be_bytes();
    [header.version, hi, lo, PULL_ACK]
}

/// A `PULL_RESP` asking the forwarder to transmit `frame` immediately: a LoRa `txpk` with
/// `imme`, non-inverted polarity (`ipol=false`, so other gateways hear it as an uplink), coding
/// rate 4/5, RF chain 0 and `powe` the requested conducted power in whole dBm.
pub fn pull_resp(version: u8, token: u16, frame: &TxFrame) -> Vec<u8> {
    let txpk = serde_json::json!({
        "txpk": {
            "imme": true,
            "freq": frame.frequency_hz as f64 / 1e6,
            "rfch": 0,
            "powe": frame.power_ddbm.div_euclid(10),
            "modu": "LORA",
            "datr": frame.datarate.as_str_name(),
            "codr": "4/5",
            "ipol": false,
            "size": frame.payload.len(),
            "data": rxpk::BASE64.encode(&frame.payload),
        }
    });
    let [hi, lo] = token.to_be_bytes();
    let mut datagram = vec![version, hi, lo, PULL_RESP];
    datagram.extend_from_slice(txpk.to_string().as_bytes());
    datagram
}

#[cfg(test)]
mod tests;
