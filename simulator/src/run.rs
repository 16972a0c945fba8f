//! Runs a whole simulated network: a real oracle (real QUIC, real database), the radio medium,
//! and one real agent per hotspot (own key, own QUIC connections), on a scaled clock.

mod agents;

use crate::keys;
use crate::medium::{Medium, Node};
use crate::report::{self, SimReport};
use crate::scenario::{HotspotSpec, ResolvedScenario};
use hotspot_agent::stats::AgentStats;
use oracle::node::Oracle;
use oracle::settings::Settings;
use schemas::clock::{ScaledClock, SharedClock};
use schemas::proto::{LocationAssertion, Request, Response, request, response};
use schemas::region::Region;
use schemas::{Keypair, PublicKey};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::watch;

/// Every simulation starts at 2026-01-01 00:00:10 UTC on its own clock: runs of one scenario
/// see the same beacon intervals and epochs, whatever the wall-clock time. The clock is held
/// there while the oracle starts and the hotspots are onboarded, so the agents always start at
/// this instant, however long the set-up took.
pub const SIMULATION_START_NS: u64 = 1_767_225_610_000_000_000;

/// How long the end of a run waits for the oracle to verify and store what is still open.
pub const FLUSH_LIMIT: Duration = Duration::from_secs(300);

/// Errors running a simulation.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    #[error("ruleset: {0}")]
    Ruleset(String),
    #[error("region: {0}")]
    Region(#[from] schemas::region::RegionError),
    #[error("oracle settings: {0}")]
    Settings(#[from] oracle::settings::SettingsError),
    #[error("oracle: {0}")]
    Oracle(#[from] oracle::node::StartError),
    #[error("transport: {0}")]
    Transport(#[from] transport::TlsError),
    #[error("radio medium: {0}")]
    Medium(String),
    #[error("onboarding {hotspot}: {reason}")]
    Onboarding { hotspot: String, reason: String },
    #[error("temporary directory: {0}")]
    Io(#[from] std::io::Error),
    #[error("report: {0}")]
    Report(#[from] oracle::store::StoreError),
    /// The oracle did not store the last verdicts in time (the flush verifies what is still
    /// open, normally the last witness window: minutes more point to a hang).
    #[error("the oracle did not store the last verdicts within {0:?}")]
    FlushTimeout(Duration),
}

/// Where the run keeps its data.
#[derive(Debug, Clone, Default)]
pub struct SimOptions {
    /// Data directory of the oracle (a temporary one when `None`).
    pub data_dir: Option<PathBuf>,
    /// Database URL (SQLite in the data directory when `None`).
    pub database_url: Option<String>,
    /// Print a progress line every few seconds to stderr.
    pub progress: bool,
}

/// A hotspot of the run with its keys.
pub struct SimHotspot {
    pub spec: HotspotSpec,
    pub key: Keypair,
    pub owner: Keypair,
}

async fn stopped(mut stop: watch::Receiver<bool>) {
    let _ = stop.wait_for(|s| *s).await;
}

/// The oracle settings a scenario asks for.
pub fn oracle_settings(
    scenario: &ResolvedScenario,
    data_dir: PathBuf,
    database_url: Option<String>,
) -> Result<Settings, SimError> {
    let mut settings = Settings {
        data_dir,
        database_url: database_url.unwrap_or_default(),
        ..Settings::default()
    };
    settings.listen = ([127, 0, 0, 1], 0).into();
    let ruleset: oracle::verifier::params::Ruleset =
        scenario.ruleset.parse().map_err(SimError::Ruleset)?;
    settings.verifier = oracle::verifier::VerifierParams::for_ruleset(ruleset);
    let p = &scenario.params;
    if let Some(tick) = p.entropy_tick {
        settings.entropy.tick = tick;
    }
    if let Some(lifespan) = p.entropy_lifespan {
        settings.entropy.lifespan = lifespan;
    }
    if let Some(interval) = p.beacon_interval {
        settings.verifier.beacon_interval = interval;
        // Rebuild the density map once per beacon interval at most, so short simulated runs
        // see hotspots become active.
        settings.verifier.density_refresh = settings.verifier.density_refresh.min(interval);
    }
    if let Some(max) = p.max_witnesses_per_poc {
        settings.verifier.max_witnesses_per_poc = max;
    }
    settings.validate()?;
    Ok(settings)
}

/// Runs `scenario` to the end and reports what every hotspot did and earned.
pub async fn simulate(
    scenario: &ResolvedScenario,
    options: &SimOptions,
) -> Result<SimReport, SimError> {
    let region: Region = scenario.region.parse()?;
    // Held until the agents launch: an agent that started late would pick its first beacon
    // in a later segment (and every beacon after it at other times), and runs meant to differ
    // only in their adversaries would differ in the honest hotspots' schedules too.
    let scaled = Arc::new(ScaledClock::held(SIMULATION_START_NS, scenario.time_scale));
    let clock: SharedClock = Arc::clone(&scaled) as SharedClock;
    let temp = tempfile::tempdir()?;
    let data_dir = options
        .data_dir
        .clone()
        .unwrap_or_else(|| temp.path().to_path_buf());
    let settings = oracle_settings(scenario, data_dir, options.database_url.clone())?;
    let hotspots: Vec<SimHotspot> = scenario
        .hotspots
        .iter()
        .map(|spec| SimHotspot {
            key: keys::derive(scenario.seed, "hotspot", &spec.name),
            owner: keys::derive(scenario.seed, "owner", &spec.owner_name()),
            spec: spec.clone(),
        })
        .collect();
    let oracle = Oracle::start(
        &settings,
        keys::derive(scenario.seed, "oracle", "oracle"),
        Arc::clone(&clock),
    )
    .await?;
    // Agents stop first, then the medium, so no agent sees its radio vanish.
    let (stop, stop_rx) = watch::channel(false);
    let (stop_medium, stop_medium_rx) = watch::channel(false);
    let (medium, medium_addr, medium_key) =
        start_medium(scenario, &hotspots, &clock, stop_medium_rx)?;
    onboard(&oracle, &hotspots, clock.now_ms()).await?;
    scaled.release();
    let start_ms = clock.now_ms();
    let launch = agents::Launch {
        scenario,
        region,
        oracle: &oracle,
        beacon_interval: settings.verifier.beacon_interval,
        medium_addr,
        medium_key,
        truth: medium.truth_book(),
        clock: Arc::clone(&clock),
        stop: stop_rx.clone(),
    };
    let agents::Launched { tasks, agent_stats } = agents::launch(&launch, &hotspots)?;
    wait_with_progress(
        &oracle,
        &clock,
        start_ms,
        scenario.duration,
        &agent_stats,
        options.progress,
    )
    .await;
    stop.send_replace(true);
    for task in tasks {
        let _ = tokio::time::timeout(Duration::from_secs(10), task).await;
    }
    stop_medium.send_replace(true);
    if tokio::time::timeout(FLUSH_LIMIT, oracle.flush())
        .await
        .is_err()
    {
        oracle.shutdown().await;
        return Err(SimError::FlushTimeout(FLUSH_LIMIT));
    }
    let end_ms = clock.now_ms();
    let report = report::build(
        scenario,
        &hotspots,
        &oracle.store,
        &settings.verifier,
        &agent_stats,
        medium.stats(),
        start_ms,
        end_ms,
    )
    .await?;
    oracle.shutdown().await;
    Ok(report)
}

fn start_medium(
    scenario: &ResolvedScenario,
    hotspots: &[SimHotspot],
    clock: &SharedClock,
    stop: watch::Receiver<bool>,
) -> Result<(Arc<Medium>, std::net::SocketAddr, PublicKey), SimError> {
    let key = keys::derive(scenario.seed, "medium", "medium");
    // Virtual witnesses and offline hotspots have no radio on the air.
    let nodes = hotspots
        .iter()
        .filter(|h| h.spec.behaviour.has_radio())
        .map(|h| Node {
            key: h.key.public(),
            lat: h.spec.lat,
            lng: h.spec.lng,
            gain_dbi: h.spec.gain_dbi,
            elevation_m: h.spec.elevation_m,
        })
        .collect();
    let medium = Arc::new(Medium::new(
        scenario.radio.clone(),
        nodes,
        Arc::clone(clock),
        scenario.seed,
    ));
    let config = transport::server_config(&key, transport::ALPN_MEDIUM)?;
    let endpoint = quinn::Endpoint::server(config, ([127, 0, 0, 1], 0).into())?;
    let addr = endpoint.local_addr()?;
    tokio::spawn(Arc::clone(&medium).serve(endpoint, stopped(stop)));
    Ok((medium, addr, key.public()))
}

/// Asserts every hotspot at its asserted position, co-signed by its owner.
async fn onboard(oracle: &Oracle, hotspots: &[SimHotspot], now_ms: u64) -> Result<(), SimError> {
    let mut endpoint = transport::client_endpoint()?;
    endpoint.set_default_client_config(transport::client_config(
        oracle.public_key,
        transport::ALPN_ORACLE,
    )?);
    let fail = |hotspot: &str, reason: String| SimError::Onboarding {
        hotspot: hotspot.to_string(),
        reason,
    };
    let connection = endpoint
        .connect(oracle.addr, "coverage-proof")
        .map_err(|e| fail("-", e.to_string()))?
        .await
        .map_err(|e| fail("-", e.to_string()))?;
    for hotspot in hotspots {
        let (lat, lng) = hotspot.spec.asserted_position();
        let cell = h3o::LatLng::new(lat, lng)
            .map_err(|e| fail(&hotspot.spec.name, e.to_string()))?
            .to_cell(h3o::Resolution::Twelve);
        let gain_ddbi = (hotspot.spec.gain_dbi * 10.0).round() as i32;
        let assertion = LocationAssertion::new_signed(
            &hotspot.key,
            &hotspot.owner,
            u64::from(cell),
            gain_ddbi,
            hotspot.spec.elevation_m.round() as i32,
            now_ms,
        );
        let request = Request {
            msg: Some(request::Msg::AssertLocation(assertion)),
        };
        let response: Response = transport::call(&connection, &request, Duration::from_secs(30))
            .await
            .map_err(|e| fail(&hotspot.spec.name, e.to_string()))?;
        if let Some(response::Msg::Rejection(r)) = response.msg {
            return Err(fail(&hotspot.spec.name, r.detail));
        }
    }
    connection.close(0u32.into(), b"done");
    Ok(())
}

async fn wait_with_progress(
    oracle: &Oracle,
    clock: &SharedClock,
    start_ms: u64,
    duration: Duration,
    agents: &[(PublicKey, Arc<AgentStats>)],
    progress: bool,
) {
    let end_ms = start_ms + duration.as_millis() as u64;
    let started = Instant::now();
    loop {
        let now = clock.now_ms();
        if now >= end_ms {
            return;
        }
        let step = clock
            .to_real(Duration::from_millis(end_ms - now))
            .min(Duration::from_secs(5));
        tokio::time::sleep(step).await;
        if progress {
            let (beacons, witnesses) = agents.iter().fold((0, 0), |(b, w), (_, s)| {
                let s = s.snapshot();
                (b + s.beacons_acked, w + s.witnesses_acked)
            });
            let v = oracle.verifier_stats();
            let done = (clock.now_ms().saturating_sub(start_ms) as f64
                / duration.as_millis().max(1) as f64)
                .min(1.0);
            eprintln!(
                "[{:>5.1}s] {:>3.0}% simulated {} | beacons {beacons} witnesses {witnesses} | verified PoCs {} (valid {}), witness verdicts {}",
                started.elapsed().as_secs_f64(),
                done * 100.0,
                humantime::format_duration(Duration::from_secs(
                    clock.now_ms().saturating_sub(start_ms) / 1000
                )),
                v.pocs,
                v.valid_beacons,
                v.witness_verdicts
            );
        }
    }
}
