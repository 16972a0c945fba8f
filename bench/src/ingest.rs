//! Figure 2: concurrent agents submit signed reports over QUIC to a real oracle
//! (`oracle::node::Oracle`: QUIC server, request checks with signature verification, the
//! group-commit writer, the streaming verifier); reports per second durably stored and
//! acknowledged, and acknowledgement latency.
//!
//! The agents run in a separate client process (`bench ingest-client`), hundreds of QUIC
//! connections, each with a few requests in flight; every report is signed before the clock
//! starts, so the client spends its time on QUIC only. A request carries one report or a
//! `ReportBatch` of `--batch` reports. A report counts when its `Ack` came back; afterwards
//! the stored rows are counted to check that every acknowledged report is in the database.
//!
//! Two ways to load: as fast as the oracle answers (`--rate 0`: each of the connections'
//! request slots sends its next request when the previous one is answered; the throughput),
//! or paced at `--rate` reports per second (request `i` is due at `i x batch / rate` seconds;
//! latency is counted from when a request was due, not from when it was sent, so a client
//! that falls behind does not hide the oracle's delay: the latency *at that load*).

use crate::day::{DayConfig, Network, cores, derive_seed, hotspot_keypair, parallel_map};
use prost::Message;
use schemas::proto::{
    BeaconReport, Report, ReportBatch, Request, Response, WitnessReport, report, report_result,
    request, response,
};
use schemas::sign::SingleSigned;
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// Witnesses per beacon in the submitted mix (Helium's peak ratio).
const WITNESSES_PER_BEACON: u64 = 10;
/// Receive-time answer budget of one request.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// What the client does.
#[derive(Debug, Clone, Serialize, Deserialize, clap::Args)]
pub struct ClientConfig {
    /// Oracle address.
    #[arg(long)]
    pub addr: std::net::SocketAddr,
    /// The oracle's base58 key (pinned).
    #[arg(long)]
    pub oracle_key: schemas::PublicKey,
    /// Seed of the hotspot keys (as the server onboarded them).
    #[arg(long)]
    pub seed: u64,
    /// Onboarded hotspots (keys 0..hotspots).
    #[arg(long)]
    pub hotspots: u64,
    /// Reports to submit.
    #[arg(long)]
    pub reports: u64,
    /// QUIC connections (agents).
    #[arg(long)]
    pub connections: usize,
    /// Requests in flight per connection.
    #[arg(long)]
    pub inflight: usize,
    /// Reports per request (1: the single-report request; more: a `ReportBatch`).
    #[arg(long, default_value_t = 1)]
    pub batch: usize,
    /// Offered load in reports per second; 0: as fast as the oracle answers.
    #[arg(long, default_value_t = 0.0)]
    pub rate: f64,
}

/// What the client measured.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ClientResult {
    pub acked: u64,
    pub duplicates: u64,
    pub rejected: u64,
    pub failed: u64,
    /// From the first request to the last answer, s.
    pub wall_s: f64,
    pub acked_per_s: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
    /// Signing the reports before the run (not timed in `wall_s`), s.
    pub sign_s: f64,
}

/// The signed reports of the run: groups of one beacon and [`WITNESSES_PER_BEACON`]
/// witnesses with the same payload, from hotspots spread over the onboarded set.
pub fn reports(seed: u64, hotspots: u64, reports: u64) -> Vec<report::Report> {
    let now_ms = schemas::clock::Clock::now_ms(&schemas::clock::SystemClock);
    parallel_map(reports as usize, cores(), |i| {
        let i = i as u64;
        let group = i / (WITNESSES_PER_BEACON + 1);
        let member = i % (WITNESSES_PER_BEACON + 1);
        let data = derive_seed(seed, "ingest-data", group)[..]
            .repeat(2)
            .split_at(51)
            .0
            .to_vec();
        let hotspot = (group * 7919 + member * 104_729) % hotspots.max(1);
        let key = hotspot_keypair(seed, hotspot);
        if member == 0 {
            let mut beacon = BeaconReport {
                local_entropy: vec![1, 2, 3, 4],
                remote_entropy: derive_seed(seed, "ingest-entropy", group / 1000).to_vec(),
                data,
                frequency_hz: 904_100_000,
                datarate: 3,
                tx_power_ddbm: 270,
                timestamp_ms: now_ms,
                ..Default::default()
            };
            beacon.sign_with(&key);
            report::Report::Beacon(beacon)
        } else {
            let mut witness = WitnessReport {
                data,
                timestamp_ms: now_ms,
                signal_ddbm: -1100 + member as i32,
                snr_ddb: 50,
                frequency_hz: 904_100_000,
                datarate: 3,
                ..Default::default()
            };
            witness.sign_with(&key);
            report::Report::Witness(witness)
        }
    })
}

/// The encoded requests of the run and the reports each carries: one report per request when
/// `batch` is 1, else `ReportBatch`es of `batch` reports.
pub fn requests(seed: u64, hotspots: u64, count: u64, batch: usize) -> Vec<(Vec<u8>, usize)> {
    let reports = reports(seed, hotspots, count);
    reports
        .chunks(batch.max(1))
        .map(|chunk| {
            let msg = match chunk {
                [report::Report::Beacon(b)] if batch == 1 => request::Msg::Beacon(b.clone()),
                [report::Report::Witness(w)] if batch == 1 => request::Msg::Witness(w.clone()),
                _ => request::Msg::Reports(ReportBatch {
                    reports: chunk
                        .iter()
                        .map(|r| Report {
                            report: Some(r.clone()),
                        })
                        .collect(),
                }),
            };
            (Request { msg: Some(msg) }.encode_to_vec(), chunk.len())
        })
        .collect()
}

/// The client process: connects, submits every report, prints a [`ClientResult`] as JSON.
pub async fn client(config: ClientConfig) -> anyhow::Result<ClientResult> {
    let start = Instant::now();
    let requests = Arc::new(requests(
        config.seed,
        config.hotspots,
        config.reports,
        config.batch,
    ));
    let sign_s = start.elapsed().as_secs_f64();
    let endpoint = transport::client_endpoint()?;
    let client = transport::client_config(config.oracle_key, transport::ALPN_ORACLE)?;
    let mut connections = Vec::with_capacity(config.connections);
    for _ in 0..config.connections {
        let connecting = endpoint.connect_with(client.clone(), config.addr, "oracle")?;
        connections.push(connecting.await?);
    }
    let next = Arc::new(AtomicUsize::new(0));
    let (rate, batch) = (config.rate, config.batch.max(1));
    let start = Instant::now();
    let mut tasks = Vec::new();
    for connection in &connections {
        for _ in 0..config.inflight {
            let connection = connection.clone();
            let requests = Arc::clone(&requests);
            let next = Arc::clone(&next);
            tasks.push(tokio::spawn(async move {
                let mut out = (ClientResult::default(), Vec::new());
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some((bytes, count)) = requests.get(i) else {
                        return out;
                    };
                    let due = if rate > 0.0 {
                        let due = start + Duration::from_secs_f64((i * batch) as f64 / rate);
                        tokio::time::sleep_until(due.into()).await;
                        due
                    } else {
                        Instant::now()
                    };
                    let answer = exchange(&connection, bytes).await;
                    let latency_us = due.elapsed().as_micros() as u32;
                    tally(&mut out, answer, *count, latency_us);
                }
            }));
        }
    }
    let mut result = ClientResult {
        sign_s,
        ..Default::default()
    };
    let mut latencies_us = Vec::with_capacity(config.reports as usize);
    for task in tasks {
        let (part, latencies) = task.await?;
        result.acked += part.acked;
        result.duplicates += part.duplicates;
        result.rejected += part.rejected;
        result.failed += part.failed;
        latencies_us.extend(latencies);
    }
    result.wall_s = start.elapsed().as_secs_f64();
    result.acked_per_s = result.acked as f64 / result.wall_s;
    latencies_us.sort_unstable();
    let quantile = |q: f64| {
        latencies_us
            .get(((latencies_us.len() as f64 - 1.0) * q).round() as usize)
            .map_or(0.0, |&us| f64::from(us) / 1000.0)
    };
    result.p50_ms = quantile(0.5);
    result.p99_ms = quantile(0.99);
    result.max_ms = quantile(1.0);
    for connection in connections {
        connection.close(0u32.into(), b"done");
    }
    endpoint.wait_idle().await;
    Ok(result)
}

/// Counts one request's answer: each report acknowledged (with the request's latency),
/// duplicate, rejected, or failed.
fn tally(
    out: &mut (ClientResult, Vec<u32>),
    answer: anyhow::Result<Response>,
    count: usize,
    latency_us: u32,
) {
    let ack = |out: &mut (ClientResult, Vec<u32>), duplicate: bool| {
        out.1.push(latency_us);
        if duplicate {
            out.0.duplicates += 1;
        } else {
            out.0.acked += 1;
        }
    };
    match answer {
        Ok(Response {
            msg: Some(response::Msg::Ack(a)),
        }) => ack(out, a.duplicate),
        Ok(Response {
            msg: Some(response::Msg::Results(results)),
        }) => {
            for result in results.results {
                match result.result {
                    Some(report_result::Result::Ack(a)) => ack(out, a.duplicate),
                    _ => out.0.rejected += 1,
                }
            }
        }
        Ok(_) => out.0.rejected += count as u64,
        Err(_) => out.0.failed += count as u64,
    }
}

async fn exchange(connection: &quinn::Connection, bytes: &[u8]) -> anyhow::Result<Response> {
    let exchange = async {
        let (mut send, mut recv) = connection.open_bi().await?;
        send.write_all(bytes).await?;
        send.finish()?;
        let answer =
            transport::rpc::read_message(&mut recv, transport::rpc::MAX_RESPONSE_BYTES).await?;
        Ok::<_, anyhow::Error>(Response::decode(answer.as_slice())?)
    };
    tokio::time::timeout(REQUEST_TIMEOUT, exchange).await?
}

/// What the server side needs to run figure 2.
#[derive(Debug, Clone)]
pub struct IngestConfig {
    pub seed: u64,
    pub hotspots: u64,
    pub reports: u64,
    pub connections: usize,
    pub inflight: usize,
    /// Reports per request.
    pub batch: usize,
    /// Offered reports per second (0: as fast as answered).
    pub rate: f64,
}

/// Figure 2's result on one database.
#[derive(Debug, Clone, Serialize)]
pub struct IngestResult {
    pub hotspots: u64,
    pub reports: u64,
    pub connections: usize,
    pub inflight_per_connection: usize,
    pub batch: usize,
    pub rate: f64,
    pub client: ClientResult,
    /// Reports in the database after the run (must equal `client.acked`).
    pub stored: u64,
}

/// Onboards the hotspots, starts an oracle on `url`, runs the client process, checks storage.
pub async fn run(
    url: &str,
    data_dir: &std::path::Path,
    real: &[(f64, f64)],
    config: &IngestConfig,
) -> anyhow::Result<IngestResult> {
    use anyhow::Context;
    let network = Network::build(
        DayConfig {
            scale: config.hotspots as f64 / crate::day::FULL_HOTSPOTS as f64,
            seed: config.seed,
        },
        real,
    )?;
    {
        let store = oracle::store::Store::new(db::Db::connect(url).await?);
        for part in (0..network.hotspots.len()).step_by(5_000) {
            let batch = network.assertions(part..(part + 5_000).min(network.hotspots.len()));
            store.save_assertions(&batch).await?;
        }
        store.close().await;
    }
    let settings = oracle::settings::Settings {
        data_dir: data_dir.to_path_buf(),
        database_url: url.to_string(),
        listen: "127.0.0.1:0".parse()?,
        ..Default::default()
    };
    let key = schemas::Keypair::from_seed(derive_seed(config.seed, "ingest-oracle", 0));
    let node =
        oracle::node::Oracle::start(&settings, key, Arc::new(schemas::clock::SystemClock)).await?;
    let exe = std::env::current_exe().context("locating the bench binary")?;
    let output = tokio::process::Command::new(exe)
        .arg("ingest-client")
        .args(["--addr", &node.addr.to_string()])
        .args(["--oracle-key", &node.public_key.to_string()])
        .args(["--seed", &config.seed.to_string()])
        .args(["--hotspots", &network.hotspots.len().to_string()])
        .args(["--reports", &config.reports.to_string()])
        .args(["--connections", &config.connections.to_string()])
        .args(["--inflight", &config.inflight.to_string()])
        .args(["--batch", &config.batch.to_string()])
        .args(["--rate", &config.rate.to_string()])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::inherit())
        .spawn()
        .context("starting the ingest client")?
        .wait_with_output()
        .await
        .context("running the ingest client")?;
    anyhow::ensure!(
        output.status.success(),
        "ingest client failed: {}",
        output.status
    );
    let client: ClientResult =
        serde_json::from_slice(&output.stdout).context("reading the client's result")?;
    node.shutdown().await;
    let store = oracle::store::Store::new(db::Db::connect(url).await?);
    let stored = count_reports(&store).await?;
    store.close().await;
    Ok(IngestResult {
        hotspots: network.hotspots.len() as u64,
        reports: config.reports,
        connections: config.connections,
        inflight_per_connection: config.inflight,
        batch: config.batch,
        rate: config.rate,
        client,
        stored,
    })
}

async fn count_reports(store: &oracle::store::Store) -> Result<u64, sqlx::Error> {
    use sqlx::Row;
    let row = sqlx::query(
        "SELECT (SELECT COUNT(*) FROM beacon_reports) + (SELECT COUNT(*) FROM witness_reports) AS n",
    )
    .fetch_one(store.db().pool())
    .await?;
    Ok(row.try_get::<i64, _>("n")?.max(0) as u64)
}
