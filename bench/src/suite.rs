//! One run of the suite: every figure at one scale, a table on stdout and a JSON file.

use crate::day::{DayConfig, Network, real_positions};
use crate::dbs::{Backend, Scratch};
use crate::ingest::{IngestConfig, IngestResult};
use crate::load::LoadStats;
use crate::sigs::SigRates;
use crate::verify::VerifyStats;
use anyhow::Context;
use serde::Serialize;
use std::path::PathBuf;
use std::time::Duration;

/// What to run.
#[derive(Debug, Clone, clap::Args)]
pub struct SuiteConfig {
    /// Share of Helium's peak day: 0.01, 0.1 or 1 (1 M hotspots, 4 M beacons, ~40 M witnesses).
    #[arg(long, default_value_t = 0.01)]
    pub scale: f64,
    /// Seed of every key and random draw.
    #[arg(long, default_value_t = 6)]
    pub seed: u64,
    /// Databases to measure on.
    #[arg(long, value_delimiter = ',', default_values_t = [Backend::Sqlite, Backend::Postgres])]
    pub db: Vec<Backend>,
    /// PostgreSQL superuser URL (a scratch database is created and dropped per figure).
    #[arg(long, env = "COVERAGE_PROOF_TEST_POSTGRES")]
    pub postgres: Option<String>,
    /// Directory of the real hotspot positions.
    #[arg(long, default_value = "../shared/data/hotspots")]
    pub hotspots_dir: PathBuf,
    /// Where SQLite scratch databases go (removed after each figure).
    #[arg(long, default_value = "bench-results/work")]
    pub work_dir: PathBuf,
    /// Where the JSON result is written.
    #[arg(long, default_value = "bench-results")]
    pub out: PathBuf,
    /// QUIC connections of the ingest client.
    #[arg(long, default_value_t = 200)]
    pub connections: usize,
    /// Requests in flight per connection (an agent waits for each acknowledgement).
    #[arg(long, default_value_t = 1)]
    pub inflight: usize,
    /// Reports submitted in figure 2 (default: 2 M x scale, at least 50,000).
    #[arg(long)]
    pub ingest_reports: Option<u64>,
    /// Verification ruleset of figure 3: `default` (physics, time of flight, witness-graph
    /// trust) or `helium` (Helium's checks only).
    #[arg(long, default_value = "default")]
    pub ruleset: String,
    /// Which figures: any of sigs, ingest, day.
    #[arg(long, value_delimiter = ',', default_values_t = ["sigs".to_string(), "ingest".to_string(), "day".to_string()])]
    pub only: Vec<String>,
}

/// Figure 3 on one database.
#[derive(Debug, Clone, Serialize)]
pub struct DayResult {
    pub backend: Backend,
    pub load: LoadStats,
    pub verify: VerifyStats,
    pub database_bytes: u64,
}

/// Everything one run measured.
#[derive(Debug, Clone, Serialize)]
pub struct SuiteResult {
    pub scale: f64,
    pub ruleset: String,
    pub seed: u64,
    pub machine: Machine,
    pub sigs: Option<SigRates>,
    pub ingest: Vec<(Backend, IngestResult)>,
    pub day: Vec<DayResult>,
    /// Figure 4 (epoch rewards for every hotspot): measured once `rewards::compute` exists.
    pub rewards: Option<serde_json::Value>,
}

/// Where it ran.
#[derive(Debug, Clone, Serialize)]
pub struct Machine {
    pub cpu: String,
    pub cores: usize,
    pub memory_gib: f64,
    pub kernel: String,
}

fn machine() -> Machine {
    let read = |p: &str| std::fs::read_to_string(p).unwrap_or_default();
    let cpu = read("/proc/cpuinfo")
        .lines()
        .find(|l| l.starts_with("model name"))
        .and_then(|l| l.split(':').nth(1))
        .unwrap_or("unknown")
        .trim()
        .to_string();
    let memory_gib = read("/proc/meminfo")
        .lines()
        .find(|l| l.starts_with("MemTotal:"))
        .and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0 / 1024.0);
    Machine {
        cpu,
        cores: crate::day::cores(),
        memory_gib,
        kernel: read("/proc/sys/kernel/osrelease").trim().to_string(),
    }
}

/// Runs the suite.
pub async fn run(config: &SuiteConfig) -> anyhow::Result<SuiteResult> {
    let wants = |f: &str| config.only.iter().any(|o| o == f);
    let mut result = SuiteResult {
        scale: config.scale,
        ruleset: config.ruleset.clone(),
        seed: config.seed,
        machine: machine(),
        sigs: None,
        ingest: Vec::new(),
        day: Vec::new(),
        rewards: None,
    };
    if wants("sigs") {
        eprintln!("figure 1: ed25519 verification");
        result.sigs = Some(crate::sigs::measure(config.seed, Duration::from_secs(2)));
    }
    let real = real_positions(&config.hotspots_dir)?;
    if wants("ingest") {
        let ingest = IngestConfig {
            seed: config.seed,
            hotspots: ((1_000_000.0 * config.scale) as u64).max(1_000),
            reports: config
                .ingest_reports
                .unwrap_or(((2_000_000.0 * config.scale) as u64).max(50_000)),
            connections: config.connections,
            inflight: config.inflight,
        };
        for &backend in &config.db {
            eprintln!(
                "figure 2: ingest on {backend}, {} reports over {} connections",
                ingest.reports, ingest.connections
            );
            let scratch = scratch(config, backend, "ingest").await?;
            let dir = config.work_dir.join(format!("ingest-oracle-{backend}"));
            let outcome = crate::ingest::run(&scratch.url, &dir, &real, &ingest).await;
            scratch.remove().await?;
            let _ = std::fs::remove_dir_all(&dir);
            let outcome = outcome?;
            eprintln!(
                "  {:.0} reports/s acknowledged, p50 {:.1} ms, p99 {:.1} ms",
                outcome.client.acked_per_s, outcome.client.p50_ms, outcome.client.p99_ms
            );
            result.ingest.push((backend, outcome));
        }
    }
    if wants("day") {
        let start = std::time::Instant::now();
        let network = Network::build(
            DayConfig {
                scale: config.scale,
                seed: config.seed,
            },
            &real,
        )?;
        eprintln!(
            "figure 3: synthetic day of {} hotspots built in {:.1} s",
            network.hotspots.len(),
            start.elapsed().as_secs_f64()
        );
        for &backend in &config.db {
            let scratch = scratch(config, backend, "day").await?;
            let outcome = day(&network, &scratch, &config.ruleset).await;
            let database_bytes = scratch.size_bytes().await.unwrap_or(0);
            scratch.remove().await?;
            let (load, verify) = outcome?;
            eprintln!(
                "  {backend}: verified in {:.1} s, peak RSS {:.0} MiB",
                verify.wall_s,
                verify.peak_rss_bytes as f64 / 1048576.0
            );
            result.day.push(DayResult {
                backend,
                load,
                verify,
                database_bytes,
            });
        }
    }
    Ok(result)
}

async fn scratch(config: &SuiteConfig, backend: Backend, label: &str) -> anyhow::Result<Scratch> {
    std::fs::create_dir_all(&config.work_dir)
        .with_context(|| format!("creating {}", config.work_dir.display()))?;
    Ok(Scratch::create(backend, label, &config.work_dir, config.postgres.as_deref()).await?)
}

async fn day(
    network: &Network,
    scratch: &Scratch,
    ruleset: &str,
) -> anyhow::Result<(LoadStats, VerifyStats)> {
    eprintln!("  {}: loading", scratch.backend);
    let store = oracle::store::Store::new(db::Db::connect(&scratch.url).await?);
    let load = crate::load::load(network, &store).await?;
    store.db().close().await;
    eprintln!("  {}: verifying (separate process)", scratch.backend);
    let exe = std::env::current_exe().context("locating the bench binary")?;
    let output = tokio::process::Command::new(exe)
        .args([
            "verify-day",
            "--database-url",
            &scratch.url,
            "--ruleset",
            ruleset,
        ])
        .stderr(std::process::Stdio::inherit())
        .output()
        .await
        .context("running the verifier process")?;
    anyhow::ensure!(
        output.status.success(),
        "verifier process failed: {}",
        output.status
    );
    let verify: VerifyStats =
        serde_json::from_slice(&output.stdout).context("reading the verifier's result")?;
    Ok((load, verify))
}

fn ratio(value: f64, limit: Option<f64>) -> String {
    match limit {
        Some(l) if l > 0.0 => format!("{:.2}", value / l),
        _ => "-".into(),
    }
}

/// The table of a run, as printed and as pasted into `docs/benchmarks.md`.
pub fn table(r: &SuiteResult) -> String {
    let mut out = String::new();
    let limit = r.sigs.map(|s| s.single_all_cores);
    out.push_str(&format!(
        "scale {} (seed {}, ruleset {}), {} x {} cores, {:.1} GiB\n\n",
        r.scale, r.seed, r.ruleset, r.machine.cpu, r.machine.cores, r.machine.memory_gib
    ));
    out.push_str("| figure | value | ratio to single verify (all cores) |\n|---|---|---|\n");
    if let Some(s) = r.sigs {
        for (name, v) in [
            ("1. verify_strict, 1 core (sig/s)", s.single_per_core),
            ("1. verify_strict, all cores (sig/s)", s.single_all_cores),
            ("1. verify_batch(64), 1 core (sig/s)", s.batch_per_core),
            ("1. verify_batch(64), all cores (sig/s)", s.batch_all_cores),
            (
                "1. report check (decode+verify), 1 core (reports/s)",
                s.report_verify_per_core,
            ),
        ] {
            out.push_str(&format!("| {name} | {v:.0} | {} |\n", ratio(v, limit)));
        }
    }
    for (backend, i) in &r.ingest {
        out.push_str(&format!(
            "| 2. ingest {backend}: {} reports, {} conns x {} in flight (acked/s) | {:.0} | {} |\n",
            i.reports,
            i.connections,
            i.inflight_per_connection,
            i.client.acked_per_s,
            ratio(i.client.acked_per_s, limit)
        ));
        out.push_str(&format!(
            "| 2. ingest {backend}: ack latency p50 / p99 / max (ms) | {:.1} / {:.1} / {:.1} | |\n",
            i.client.p50_ms, i.client.p99_ms, i.client.max_ms
        ));
        out.push_str(&format!(
            "| 2. ingest {backend}: acked / stored / rejected / failed | {} / {} / {} / {} | |\n",
            i.client.acked, i.stored, i.client.rejected, i.client.failed
        ));
    }
    for d in &r.day {
        let b = d.backend;
        let reports = (d.load.beacons + d.load.witnesses) as f64;
        out.push_str(&format!(
            "| 3. day {b}: hotspots / beacons / witnesses | {} / {} / {} | |\n",
            d.load.hotspots, d.load.beacons, d.load.witnesses
        ));
        out.push_str(&format!(
            "| 3. day {b}: onboard / generate+sign+store reports (s) | {:.1} / {:.1} | |\n",
            d.load.onboard_s, d.load.reports_s
        ));
        out.push_str(&format!(
            "| 3. day {b}: verification wall time (s) | {:.1} | {} |\n",
            d.verify.wall_s,
            ratio(reports / d.verify.wall_s.max(1e-9), limit)
        ));
        out.push_str(&format!(
            "| 3. day {b}: verification peak RSS (MiB) | {:.0} | |\n",
            d.verify.peak_rss_bytes as f64 / 1048576.0
        ));
        out.push_str(&format!(
            "| 3. day {b}: valid beacons / valid witnesses | {} / {} | |\n",
            d.verify.stats.valid_beacons, d.verify.stats.valid_witnesses
        ));
        out.push_str(&format!(
            "| 3. day {b}: database size (MiB) / verdict digest | {:.0} / {} | |\n",
            d.database_bytes as f64 / 1048576.0,
            &d.verify.verdict_digest[..16.min(d.verify.verdict_digest.len())]
        ));
    }
    out.push_str(
        "| 4. rewards for every hotspot (rewards::compute) | not measured yet: the lead adds it | |\n",
    );
    out
}
