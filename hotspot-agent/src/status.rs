//! What `hotspot-agent status` shows: the daemon rewrites a JSON status file every few seconds
//! (atomically, by rename) and the command reads and prints it.
//!
//! [`Board`] holds the live state that counters do not capture (oracle link, last beacon); the
//! file adds the counters of the agent and of the radio and the queue depth.

use crate::stats::AgentStatsSnapshot;
use serde::{Deserialize, Serialize};
use std::path::Path;
use std::sync::{Mutex, MutexGuard, PoisonError};

/// The state of the oracle link.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OracleLink {
    /// Whether a connection is up.
    pub connected: bool,
    /// When it last changed (agent clock, ms since the epoch; 0: never).
    pub since_ms: u64,
    /// The last connection or request error.
    pub last_error: Option<String>,
}

/// The last beacon attempt.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LastBeacon {
    /// When (agent clock, ms since the epoch).
    pub at_ms: u64,
    /// Whether the radio transmitted it (and its report was queued).
    pub transmitted: bool,
    /// What happened, for people.
    pub outcome: String,
}

/// Live state shared by the agent's parts.
#[derive(Debug, Default)]
pub struct Board {
    state: Mutex<BoardState>,
}

/// A copy of a [`Board`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BoardState {
    /// The oracle link.
    pub oracle: OracleLink,
    /// The last beacon attempt, if any.
    pub last_beacon: Option<LastBeacon>,
}

impl Board {
    fn lock(&self) -> MutexGuard<'_, BoardState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Records the oracle link going up or down at `now_ms`.
    pub fn oracle(&self, connected: bool, error: Option<String>, now_ms: u64) {
        let mut state = self.lock();
        if state.oracle.connected != connected || state.oracle.since_ms == 0 {
            state.oracle.since_ms = now_ms;
        }
        state.oracle.connected = connected;
        if error.is_some() {
            state.oracle.last_error = error;
        }
    }

    /// Records a beacon attempt.
    pub fn beacon(&self, beacon: LastBeacon) {
        self.lock().last_beacon = Some(beacon);
    }

    /// The current state.
    pub fn snapshot(&self) -> BoardState {
        self.lock().clone()
    }
}

/// The report queue.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueueStatus {
    /// Reports waiting.
    pub reports: u64,
    /// Their size, bytes.
    pub bytes: u64,
}

/// The status file.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Status {
    /// When it was written (ms since the epoch).
    pub written_ms: u64,
    /// Process id of the daemon.
    pub pid: u32,
    /// The hotspot's public key.
    pub hotspot: String,
    /// The oracle's address.
    pub oracle_address: String,
    /// Live state.
    #[serde(flatten)]
    pub board: BoardState,
    /// The queue.
    pub queue: QueueStatus,
    /// The agent's counters.
    pub agent: AgentStatsSnapshot,
    /// The radio's counters (kind-specific).
    pub radio: serde_json::Value,
}

/// Writes `status` to `path` atomically (temporary file, then rename).
pub fn write(path: &Path, status: &Status) -> std::io::Result<()> {
    let tmp = path.with_extension("json.tmp");
    let text = serde_json::to_vec_pretty(status).map_err(std::io::Error::other)?;
    std::fs::write(&tmp, text)?;
    std::fs::rename(&tmp, path)
}

/// Reads a status file.
pub fn read(path: &Path) -> std::io::Result<Status> {
    let text = std::fs::read(path)?;
    serde_json::from_slice(&text).map_err(std::io::Error::other)
}

/// `status` for people; ages relative to `now_ms`.
pub fn render(status: &Status, now_ms: u64) -> String {
    let ago = |ms: u64| {
        let secs = now_ms.saturating_sub(ms) / 1000;
        humantime::format_duration(std::time::Duration::from_secs(secs)).to_string()
    };
    let oracle = &status.board.oracle;
    let link = match (oracle.connected, oracle.since_ms) {
        (true, since) => format!("connected for {}", ago(since)),
        (false, 0) => "not connected yet".to_string(),
        (false, since) => format!("NOT connected for {}", ago(since)),
    };
    let mut out = format!(
        "hotspot     {}\nstatus      written {} ago by pid {}\noracle      {} ({link})\n",
        status.hotspot,
        ago(status.written_ms),
        status.pid,
        status.oracle_address
    );
    if let Some(error) = &oracle.last_error {
        out += &format!("            last error: {error}\n");
    }
    out += &match &status.board.last_beacon {
        Some(b) => format!("last beacon {} ago: {}\n", ago(b.at_ms), b.outcome),
        None => "last beacon none yet\n".to_string(),
    };
    let a = &status.agent;
    out += &format!(
        "queue       {} reports ({} bytes), {} dropped\nbeacons     {} sent, {} acked, {} failed\nwitnesses   {} sent, {} acked; {} rejected; {} frames heard, {} ignored\n",
        status.queue.reports,
        status.queue.bytes,
        a.reports_dropped,
        a.beacons_sent,
        a.beacons_acked,
        a.beacon_failures,
        a.witnesses_sent,
        a.witnesses_acked,
        a.rejections,
        a.frames_received,
        a.frames_ignored
    );
    if let Some(radio) = status.radio.as_object() {
        let counters: Vec<String> = radio.iter().map(|(k, v)| format!("{k}={v}")).collect();
        out += &format!("radio       {}\n", counters.join(" "));
    }
    out
}
