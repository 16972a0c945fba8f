//! Counters of what an agent did, readable while it runs (the simulator aggregates them).

use std::sync::atomic::{AtomicU64, Ordering};

/// Declares a struct of atomic counters and its plain snapshot.
macro_rules! counters {
    ($(#[doc = $sdoc:literal])* $stats:ident, $(#[doc = $ndoc:literal])* $snapshot:ident {
        $($(#[doc = $doc:literal])* $name:ident),* $(,)?
    }) => {
        $(#[doc = $sdoc])*
        #[derive(Debug, Default)]
        pub struct $stats {
            $($(#[doc = $doc])* pub $name: std::sync::atomic::AtomicU64,)*
        }

        $(#[doc = $ndoc])*
        #[derive(Debug, Default, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
        pub struct $snapshot {
            $($(#[doc = $doc])* #[serde(default)] pub $name: u64,)*
        }

        impl $stats {
            /// The current values.
            pub fn snapshot(&self) -> $snapshot {
                $snapshot { $($name: self.$name.load(std::sync::atomic::Ordering::Relaxed),)* }
            }
        }
    };
}
pub(crate) use counters;

counters! {
    /// Live counters of one agent. Share it through `Arc`; read it with [`AgentStats::snapshot`].
    AgentStats,
    /// A copy of [`AgentStats`] at one moment.
    AgentStatsSnapshot {
    /// Beacons the radio confirmed transmitting.
    beacons_sent,
    /// Beacon reports the oracle acknowledged.
    beacons_acked,
    /// Beacons not sent: no valid entropy, derivation failed or the radio did not transmit.
    beacon_failures,
    /// Witness reports made (and queued for the oracle).
    witnesses_sent,
    /// Witness reports the oracle acknowledged.
    witnesses_acked,
    /// Reports the oracle rejected for good (typed rejection other than `UNAVAILABLE`).
    rejections,
    /// Frames heard by the radio.
    frames_received,
    /// Frames heard that were not reported: not a beacon, own beacon or already reported.
    frames_ignored,
    /// Reports dropped from the queue: over its size bound or older than its age bound.
    reports_dropped,
    /// Times the oracle connection was re-established after being up before.
    reconnects,
    /// Failed attempts to connect to the oracle.
    oracle_connect_failures,
    /// Reports that could not be written to the durable queue (kept in memory instead).
    queue_write_errors,
}}

impl AgentStats {
    /// Adds one to `counter`.
    pub(crate) fn bump(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snapshot_copies_the_counters() {
        let stats = AgentStats::default();
        AgentStats::bump(&stats.beacons_sent);
        AgentStats::bump(&stats.beacons_sent);
        AgentStats::bump(&stats.rejections);
        let snapshot = stats.snapshot();
        assert_eq!(snapshot.beacons_sent, 2);
        assert_eq!(snapshot.rejections, 1);
        assert_eq!(snapshot.witnesses_acked, 0);
        let json = serde_json::to_value(snapshot).expect("json");
        assert_eq!(json["beacons_sent"], 2);
    }
}
