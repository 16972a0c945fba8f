//! The JSON of a `TX_ACK`, including the variants real forwarders send.
//!
//! Reference forwarders write `{"txpk_ack":{"error":"NONE"}}` on success and
//! `{"txpk_ack":{"error":"TOO_LATE"}}` etc. on refusal; the SX1302 forwarder adds
//! `{"txpk_ack":{"warn":"TX_POWER","value":27}}` when it lowered the power (sent anyway), some
//! add `"tmst"`. Others send no JSON at all, a single NUL byte (Kerlink, gateway-rs#272), an empty
//! object, `"error":""`, or only `"tmst"` (semtech-udp#77, oracles#335). The protocol says the
//! JSON is optional and its absence means success, so every one of these is a transmission; an
//! ack we cannot read at all is also taken as sent (the forwarder answered our token) but marked
//! [`TxAck::odd`] so it is counted and logged.

use serde_json::Value;
use std::fmt;

/// A GWMP `TX_ACK` error code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TxErrorCode {
    /// Too late to program the packet.
    TooLate,
    /// Timestamp too far ahead.
    TooEarly,
    /// Another packet was scheduled at that time.
    CollisionPacket,
    /// A class-B beacon was scheduled at that time.
    CollisionBeacon,
    /// Frequency not supported by the TX chain.
    TxFreq,
    /// Power not supported (legacy error form: not transmitted).
    TxPower,
    /// GPS unlocked.
    GpsUnlocked,
    /// Listen-before-talk found the channel busy.
    SendLbt,
    /// The concentrator failed to send.
    SendFail,
    /// Any other code, verbatim.
    Other(String),
}

impl TxErrorCode {
    fn parse(code: &str) -> Self {
        match code {
            "TOO_LATE" => Self::TooLate,
            "TOO_EARLY" => Self::TooEarly,
            "COLLISION_PACKET" => Self::CollisionPacket,
            "COLLISION_BEACON" => Self::CollisionBeacon,
            "TX_FREQ" => Self::TxFreq,
            "TX_POWER" => Self::TxPower,
            "GPS_UNLOCKED" => Self::GpsUnlocked,
            "SEND_LBT" | "LBT" => Self::SendLbt,
            "SEND_FAIL" => Self::SendFail,
            other => Self::Other(other.chars().take(64).collect()),
        }
    }
}

impl fmt::Display for TxErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let code = match self {
            Self::TooLate => "TOO_LATE",
            Self::TooEarly => "TOO_EARLY",
            Self::CollisionPacket => "COLLISION_PACKET",
            Self::CollisionBeacon => "COLLISION_BEACON",
            Self::TxFreq => "TX_FREQ",
            Self::TxPower => "TX_POWER",
            Self::GpsUnlocked => "GPS_UNLOCKED",
            Self::SendLbt => "SEND_LBT",
            Self::SendFail => "SEND_FAIL",
            Self::Other(code) => code,
        };
        f.write_str(code)
    }
}

/// What the forwarder did with a `PULL_RESP`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TxOutcome {
    /// Transmitted at the requested power.
    Sent,
    /// Transmitted at a lower (or different) power, dBm, when the forwarder said so.
    PowerAdjusted {
        /// Power used, dBm; `None` when the forwarder did not say.
        dbm: Option<i32>,
    },
    /// Not transmitted.
    Refused(TxErrorCode),
}

/// A decoded `TX_ACK`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TxAck {
    /// The outcome.
    pub outcome: TxOutcome,
    /// The concentrator counter of the transmission, when given.
    pub tmst: Option<u32>,
    /// The ack did not follow any known shape (unreadable JSON, unknown warning).
    pub odd: bool,
}

/// Parses the JSON part of a `TX_ACK` (already stripped of trailing NULs).
pub fn parse(json: &[u8]) -> TxAck {
    let sent = |odd| TxAck {
        outcome: TxOutcome::Sent,
        tmst: None,
        odd,
    };
    if json.is_empty() {
        return sent(false);
    }
    let Ok(value) = serde_json::from_slice::<Value>(json) else {
        return sent(true);
    };
    let Some(ack) = value.get("txpk_ack").and_then(Value::as_object) else {
        return sent(true);
    };
    let text = |key| ack.get(key).and_then(Value::as_str).map(str::trim);
    let tmst = ack
        .get("tmst")
        .and_then(Value::as_u64)
        .and_then(|t| u32::try_from(t).ok());
    let value_dbm = ack
        .get("value")
        .and_then(Value::as_f64)
        .map(|v| v.round().clamp(-100.0, 100.0) as i32);
    let (outcome, odd) = match (text("error"), text("warn")) {
        (Some(error), _) if !error.is_empty() && error != "NONE" => {
            (TxOutcome::Refused(TxErrorCode::parse(error)), false)
        }
        (_, Some("TX_POWER")) => (TxOutcome::PowerAdjusted { dbm: value_dbm }, false),
        (_, Some(warn)) if !warn.is_empty() && warn != "NONE" => (TxOutcome::Sent, true),
        _ => (TxOutcome::Sent, false),
    };
    TxAck { outcome, tmst, odd }
}
