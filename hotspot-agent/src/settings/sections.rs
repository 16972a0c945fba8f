//! The daemon's tables: `[queue]` and `[status]`.

use crate::outbox::QueueLimits;
use serde::Deserialize;
use std::time::Duration;

/// `[queue]`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct QueueSettings {
    /// Most MiB of reports kept.
    pub max_mib: u64,
    /// Most reports kept.
    pub max_reports: usize,
    /// Oldest report kept.
    #[serde(with = "humantime_serde")]
    pub max_age: Duration,
}

impl Default for QueueSettings {
    fn default() -> Self {
        let limits = QueueLimits::default();
        Self {
            max_mib: limits.max_bytes >> 20,
            max_reports: limits.max_reports,
            max_age: limits.max_age,
        }
    }
}

impl QueueSettings {
    /// The queue's bounds.
    pub fn limits(&self) -> QueueLimits {
        QueueLimits {
            max_reports: self.max_reports,
            max_bytes: self.max_mib.saturating_mul(1 << 20),
            max_age: self.max_age,
        }
    }
}

/// `[status]`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StatusSettings {
    /// How often the status file is rewritten.
    #[serde(with = "humantime_serde")]
    pub interval: Duration,
}

impl Default for StatusSettings {
    fn default() -> Self {
        Self {
            interval: Duration::from_secs(5),
        }
    }
}
