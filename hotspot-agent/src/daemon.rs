//! `hotspot-agent run` (the daemon: radio, durable queue, agent, status file) and
//! `hotspot-agent status`.

use anyhow::Context;
use hotspot_agent::outbox::Outbox;
use hotspot_agent::radio::Radio;
use hotspot_agent::radio::semtech::SemtechRadio;
use hotspot_agent::radio::sim::SimRadio;
use hotspot_agent::settings::{RadioKind, Settings};
use hotspot_agent::status::{self, QueueStatus, Status};
use hotspot_agent::{Agent, AgentStats};
use schemas::Keypair;
use schemas::clock::{Clock, SharedClock, SystemClock};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;
use tracing::{info, warn};

/// Name of the status file in the data directory.
const STATUS_FILE: &str = "status.json";

/// The radio's counters as JSON, for the status file.
type RadioCounters = Box<dyn Fn() -> serde_json::Value + Send + Sync>;

/// Everything the status writer reads.
struct StatusSource {
    path: PathBuf,
    interval: Duration,
    hotspot: String,
    oracle_address: String,
    stats: Arc<AgentStats>,
    outbox: Arc<Outbox>,
    board: Arc<status::Board>,
    radio: RadioCounters,
}

impl StatusSource {
    fn status(&self) -> Status {
        Status {
            written_ms: SystemClock.now_ms(),
            pid: std::process::id(),
            hotspot: self.hotspot.clone(),
            oracle_address: self.oracle_address.clone(),
            board: self.board.snapshot(),
            queue: QueueStatus {
                reports: self.outbox.len() as u64,
                bytes: self.outbox.bytes(),
            },
            agent: self.stats.snapshot(),
            radio: (self.radio)(),
        }
    }

    fn write(&self) {
        if let Err(error) = status::write(&self.path, &self.status()) {
            warn!(%error, path = %self.path.display(), "cannot write the status file");
        }
    }

    /// Rewrites the status file every interval, forever.
    async fn run(&self) {
        let mut ticks = tokio::time::interval(self.interval);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            self.write();
        }
    }
}

/// Runs the daemon described by the settings file until SIGINT/SIGTERM.
pub async fn run(
    settings_path: &Path,
    key: Keypair,
    settings: Settings,
) -> anyhow::Result<ExitCode> {
    let config = settings.agent_config()?;
    let clock: SharedClock = Arc::new(SystemClock);
    let outbox = Arc::new(Outbox::open(&settings.data_dir, settings.queue.limits())?);
    let agent = Agent::new(config, key.clone(), clock.clone()).with_outbox(outbox.clone());
    let mut source = StatusSource {
        path: settings.data_dir.join(STATUS_FILE),
        interval: settings.status.interval,
        hotspot: key.public().to_string(),
        oracle_address: settings.oracle.address.clone(),
        stats: agent.stats(),
        outbox,
        board: agent.board(),
        radio: Box::new(|| serde_json::Value::Null),
    };
    info!(settings = %settings_path.display(), data_dir = %settings.data_dir.display(), radio = ?settings.radio.kind, "starting");
    match settings.radio.kind {
        RadioKind::Simulated => {
            let radio = SimRadio::connect(settings.sim_radio_config()?, key, clock)?;
            run_agent(agent, radio, source).await
        }
        RadioKind::Semtech => {
            let listen = settings.radio.listen;
            let radio = SemtechRadio::bind(listen)
                .await
                .with_context(|| format!("radio.listen: cannot bind UDP {listen}"))?;
            let counters = radio.counters();
            source.radio =
                Box::new(move || serde_json::to_value(counters.snapshot()).unwrap_or_default());
            run_agent(agent, radio, source).await
        }
    }
}

async fn run_agent<R: Radio>(
    agent: Agent,
    radio: R,
    source: StatusSource,
) -> anyhow::Result<ExitCode> {
    let result = tokio::select! {
        result = agent.run(radio, crate::cli::shutdown_signal()) => result,
        () = source.run() => Ok(()),
    };
    source.write();
    result?;
    Ok(ExitCode::SUCCESS)
}

/// Prints the daemon's status file; exit code 1 when it is missing or stale (daemon down).
pub fn show_status(settings: &Settings, json: bool) -> anyhow::Result<ExitCode> {
    let path = settings.data_dir.join(STATUS_FILE);
    let status = status::read(&path).with_context(|| {
        format!(
            "reading {} (is `hotspot-agent run` running with these settings?)",
            path.display()
        )
    })?;
    let now_ms = SystemClock.now_ms();
    if json {
        println!("{}", serde_json::to_string_pretty(&status)?);
    } else {
        print!("{}", status::render(&status, now_ms));
    }
    let stale_after_ms = 3 * settings.status.interval.as_millis() as u64 + 2_000;
    if now_ms.saturating_sub(status.written_ms) > stale_after_ms {
        eprintln!("warning: the status file is stale; the daemon does not seem to be running");
        return Ok(ExitCode::from(1));
    }
    Ok(ExitCode::SUCCESS)
}
