//! One run of the suite: every figure at one scale, a table on stdout and a JSON file.

use crate::day::{DayConfig, Network, real_positions};
use crate::dbs::{Backend, Scratch};
use crate::ingest::{IngestConfig, IngestResult};
use crate::load::LoadStats;
use crate::rewards::{CoreRun, EpochRun};
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
    /// Reports submitted in each figure 2 run (default: 2 M x scale, at least 600,000: over
    /// 10 s of load at the target rate).
    #[arg(long)]
    pub ingest_reports: Option<u64>,
    /// Reports per request in figure 2: each size is measured (1: one report per request).
    #[arg(long, value_delimiter = ',', default_values_t = [1usize, 32])]
    pub batch: Vec<usize>,
    /// Offered load of figure 2's paced runs, reports/s (the latency at that load); 0 skips them.
    #[arg(long, default_value_t = 50_000.0)]
    pub ingest_rate: f64,
    /// Requests in flight per connection in the paced runs (room to keep the pace).
    #[arg(long, default_value_t = 8)]
    pub paced_inflight: usize,
    /// Verification ruleset of figure 3: `default` (physics, time of flight, witness-graph
    /// trust) or `helium` (Helium's checks only).
    #[arg(long, default_value = "default")]
    pub ruleset: String,
    /// Hotspots of figure 4's reward-math run (`bench rewards-core`).
    #[arg(long, default_value_t = 1_000_000)]
    pub rewards_hotspots: u64,
    /// Which figures: any of sigs, ingest, day, rewards (the day's epoch needs `day`).
    #[arg(long, value_delimiter = ',', default_values_t = ["sigs".to_string(), "ingest".to_string(), "day".to_string(), "rewards".to_string()])]
    pub only: Vec<String>,
}

/// Figure 3 on one database.
#[derive(Debug, Clone, Serialize)]
pub struct DayResult {
    pub backend: Backend,
    pub load: LoadStats,
    pub verify: VerifyStats,
    pub database_bytes: u64,
    /// Figure 4 on this database: the day's epoch computed twice, each in its own process.
    pub rewards: Vec<EpochRun>,
}

/// Figure 4.
#[derive(Debug, Clone, Serialize)]
pub struct RewardsResult {
    /// Every epoch run on every database gave the same manifest hash.
    pub same_hash_everywhere: Option<bool>,
    /// The reward math alone (`bench rewards-core`).
    pub core: CoreRun,
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
    /// Figure 4 (epoch rewards for every hotspot).
    pub rewards: Option<RewardsResult>,
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
        for ingest in ingest_runs(config) {
            for &backend in &config.db {
                let outcome = ingest_once(config, backend, &real, &ingest).await?;
                result.ingest.push((backend, outcome));
            }
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
            let outcome = day(&network, &scratch, &config.ruleset, wants("rewards")).await;
            let database_bytes = scratch.size_bytes().await.unwrap_or(0);
            scratch.remove().await?;
            let (load, verify, rewards) = outcome?;
            eprintln!(
                "  {backend}: verified in {:.1} s, peak RSS {:.0} MiB ({:.0} MiB anonymous)",
                verify.wall_s,
                verify.peak_rss_bytes as f64 / 1048576.0,
                verify.peak_anon_bytes as f64 / 1048576.0
            );
            result.day.push(DayResult {
                backend,
                load,
                verify,
                database_bytes,
                rewards,
            });
        }
    }
    if wants("rewards") {
        eprintln!(
            "figure 4: reward math for {} hotspots (separate process)",
            config.rewards_hotspots
        );
        let output = subprocess(&[
            "rewards-core".into(),
            "--hotspots".into(),
            config.rewards_hotspots.to_string(),
            "--seed".into(),
            config.seed.to_string(),
        ])
        .await?;
        let core: CoreRun =
            serde_json::from_slice(&output).context("reading the rewards-core result")?;
        eprintln!(
            "  aggregate {:.1} s, manifest {:.1} s, hash {:.2} s",
            core.aggregate_s, core.manifest_s, core.hash_s
        );
        let hashes: Vec<&str> = result
            .day
            .iter()
            .flat_map(|d| d.rewards.iter().map(|r| r.manifest_hash.as_str()))
            .collect();
        result.rewards = Some(RewardsResult {
            same_hash_everywhere: (!hashes.is_empty())
                .then(|| hashes.windows(2).all(|w| w[0] == w[1])),
            core,
        });
    }
    Ok(result)
}

async fn scratch(config: &SuiteConfig, backend: Backend, label: &str) -> anyhow::Result<Scratch> {
    std::fs::create_dir_all(&config.work_dir)
        .with_context(|| format!("creating {}", config.work_dir.display()))?;
    Ok(Scratch::create(backend, label, &config.work_dir, config.postgres.as_deref()).await?)
}

/// Runs this binary with `args`, its stderr shown; returns its stdout.
async fn subprocess(args: &[String]) -> anyhow::Result<Vec<u8>> {
    let exe = std::env::current_exe().context("locating the bench binary")?;
    // `spawn` + `wait_with_output`, not `output()`: tokio's `output()` pipes stderr too, which
    // would swallow the child's progress lines.
    let output = tokio::process::Command::new(exe)
        .args(args)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::inherit())
        .spawn()
        .with_context(|| format!("starting bench {}", args.join(" ")))?
        .wait_with_output()
        .await
        .with_context(|| format!("running bench {}", args.join(" ")))?;
    anyhow::ensure!(
        output.status.success(),
        "bench {} failed: {}",
        args.first().map_or("", String::as_str),
        output.status
    );
    Ok(output.stdout)
}

async fn day(
    network: &Network,
    scratch: &Scratch,
    ruleset: &str,
    rewards: bool,
) -> anyhow::Result<(LoadStats, VerifyStats, Vec<EpochRun>)> {
    eprintln!("  {}: loading", scratch.backend);
    let store = oracle::store::Store::new(db::Db::connect(&scratch.url).await?);
    let load = crate::load::load(network, &store).await?;
    store.close().await;
    eprintln!("  {}: verifying (separate process)", scratch.backend);
    let output = subprocess(&[
        "verify-day".into(),
        "--database-url".into(),
        scratch.url.clone(),
        "--ruleset".into(),
        ruleset.into(),
    ])
    .await?;
    let verify: VerifyStats =
        serde_json::from_slice(&output).context("reading the verifier's result")?;
    let mut runs = Vec::new();
    if rewards {
        for run in 1..=2 {
            eprintln!(
                "  {}: epoch {} rewards, run {run} (separate process)",
                scratch.backend,
                crate::rewards::DAY_EPOCH
            );
            let output = subprocess(&[
                "rewards-epoch".into(),
                "--database-url".into(),
                scratch.url.clone(),
            ])
            .await?;
            let epoch: EpochRun =
                serde_json::from_slice(&output).context("reading the rewards-epoch result")?;
            eprintln!(
                "    {:.1} s, {} hotspots paid, manifest {}",
                epoch.wall_s,
                epoch.hotspots_paid,
                &epoch.manifest_hash[..16]
            );
            runs.push(epoch);
        }
    }
    Ok((load, verify, runs))
}

fn ratio(value: f64, limit: Option<f64>) -> String {
    match limit {
        Some(l) if l > 0.0 => format!("{:.2}", value / l),
        _ => "-".into(),
    }
}

/// Figure 2's runs: for each batch size, as fast as answered, then paced at the target rate.
fn ingest_runs(config: &SuiteConfig) -> Vec<IngestConfig> {
    let base = IngestConfig {
        seed: config.seed,
        hotspots: ((1_000_000.0 * config.scale) as u64).max(1_000),
        reports: config
            .ingest_reports
            .unwrap_or(((2_000_000.0 * config.scale) as u64).max(600_000)),
        connections: config.connections,
        inflight: config.inflight,
        batch: 1,
        rate: 0.0,
    };
    let mut runs = Vec::new();
    for &batch in &config.batch {
        runs.push(IngestConfig {
            batch,
            ..base.clone()
        });
        if config.ingest_rate > 0.0 {
            runs.push(IngestConfig {
                batch,
                rate: config.ingest_rate,
                inflight: config.paced_inflight,
                ..base.clone()
            });
        }
    }
    runs
}

async fn ingest_once(
    config: &SuiteConfig,
    backend: Backend,
    real: &[(f64, f64)],
    ingest: &IngestConfig,
) -> anyhow::Result<IngestResult> {
    eprintln!(
        "figure 2: ingest on {backend}, {} reports over {} connections x {} in flight, {} per request, {}",
        ingest.reports,
        ingest.connections,
        ingest.inflight,
        ingest.batch,
        pace(ingest.rate)
    );
    let scratch = scratch(config, backend, "ingest").await?;
    let dir = config.work_dir.join(format!("ingest-oracle-{backend}"));
    let outcome = crate::ingest::run(&scratch.url, &dir, real, ingest).await;
    scratch.remove().await?;
    let _ = std::fs::remove_dir_all(&dir);
    let outcome = outcome?;
    eprintln!(
        "  {:.0} reports/s acknowledged, p50 {:.1} ms, p99 {:.1} ms",
        outcome.client.acked_per_s, outcome.client.p50_ms, outcome.client.p99_ms
    );
    Ok(outcome)
}

fn pace(rate: f64) -> String {
    if rate > 0.0 {
        format!("paced at {rate:.0} reports/s")
    } else {
        "as fast as answered".into()
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
            (
                "1. ZIP 215 single, 1 core (sig/s)",
                s.zip215_single_per_core,
            ),
            (
                "1. ZIP 215 single, all cores (sig/s)",
                s.zip215_single_all_cores,
            ),
            (
                "1. ZIP 215 batch(64), 1 core (sig/s)",
                s.zip215_batch_per_core,
            ),
            (
                "1. ZIP 215 batch(64), all cores (sig/s)",
                s.zip215_batch_all_cores,
            ),
            (
                "1. BatchVerifier(128) over reports, keys decoded each time, all cores (reports/s)",
                s.report_batch_all_cores,
            ),
            (
                "1. ingest's BatchVerifier(128) over reports, keys kept decoded, all cores (reports/s)",
                s.report_batch_cached_all_cores,
            ),
        ] {
            out.push_str(&format!("| {name} | {v:.0} | {} |\n", ratio(v, limit)));
        }
    }
    for (backend, i) in &r.ingest {
        out.push_str(&format!(
            "| 2. ingest {backend}: {} reports, {} per request, {} conns x {} in flight, {} (acked/s) | {:.0} | {} |\n",
            i.reports,
            i.batch,
            i.connections,
            i.inflight_per_connection,
            pace(i.rate),
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
            "| 3. day {b}: verification peak RSS / anonymous (MiB) | {:.0} / {:.0} | |\n",
            d.verify.peak_rss_bytes as f64 / 1048576.0,
            d.verify.peak_anon_bytes as f64 / 1048576.0
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
    for d in &r.day {
        for (i, e) in d.rewards.iter().enumerate() {
            out.push_str(&format!(
                "| 4. epoch rewards {} run {}: {} reports, {} hotspots paid (s / peak MiB) | {:.1} / {:.0} | |\n",
                d.backend,
                i + 1,
                e.reports,
                e.hotspots_paid,
                e.wall_s,
                e.peak_rss_bytes as f64 / 1048576.0
            ));
        }
    }
    if let Some(rw) = &r.rewards {
        if let Some(same) = rw.same_hash_everywhere {
            let hash = r
                .day
                .iter()
                .find_map(|d| d.rewards.first())
                .map_or("", |e| &e.manifest_hash[..16]);
            out.push_str(&format!(
                "| 4. epoch rewards: same manifest hash in every run and database | {} ({hash}) | |\n",
                if same { "yes" } else { "NO" }
            ));
        }
        let c = &rw.core;
        out.push_str(&format!(
            "| 4. reward math, {} hotspots, {} events: aggregate / manifest / hash (s) | {:.1} / {:.1} / {:.2} | |\n",
            c.hotspots, c.events, c.aggregate_s, c.manifest_s, c.hash_s
        ));
        out.push_str(&format!(
            "| 4. reward math, {} hotspots: peak RSS (MiB) | {:.0} | |\n",
            c.hotspots,
            c.peak_rss_bytes as f64 / 1048576.0
        ));
    }
    out
}
