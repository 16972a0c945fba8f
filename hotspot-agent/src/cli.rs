//! The command line: arguments and what each command does.

use anyhow::{Context, bail};
use clap::{Parser, Subcommand};
use h3o::{LatLng, Resolution};
use hotspot_agent::OracleClient;
use hotspot_agent::settings::{InitialValues, Settings, initial_settings, with_antenna_gain};
use schemas::clock::{Clock, SystemClock};
use schemas::proto::{LocationAssertion, Request, request, response};
use schemas::region::Region;
use schemas::{Keypair, PublicKey};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

/// Name of the key file `init` creates.
const KEY_FILE: &str = "hotspot.key";
/// Name of the settings file `init` creates.
const SETTINGS_FILE: &str = "settings.toml";

/// A coverage-proof hotspot agent: beacons, witnesses and reports to the oracle.
#[derive(Debug, Parser)]
#[command(name = "hotspot-agent", version)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create the hotspot key and a documented settings file in DIR; print the public key.
    Init {
        /// Directory for `hotspot.key` and `settings.toml`.
        #[arg(long)]
        dir: PathBuf,
        /// The oracle, host:port.
        #[arg(long)]
        oracle: String,
        /// The oracle's public key (base58), pinned.
        #[arg(long)]
        oracle_key: PublicKey,
        /// LoRaWAN region.
        #[arg(long, default_value = "US915")]
        region: Region,
        /// The simulated radio medium, host:port.
        #[arg(long, requires = "medium_key")]
        medium: Option<String>,
        /// The simulated radio medium's public key (base58).
        #[arg(long, requires = "medium")]
        medium_key: Option<PublicKey>,
    },
    /// Assert the hotspot's location and antenna, co-signed by the owner key.
    Assert {
        /// The settings file.
        #[arg(long)]
        settings: PathBuf,
        /// The owner's key file (Solana CLI JSON).
        #[arg(long)]
        owner_key: PathBuf,
        /// Latitude, degrees.
        #[arg(long, allow_negative_numbers = true)]
        lat: f64,
        /// Longitude, degrees.
        #[arg(long, allow_negative_numbers = true)]
        lng: f64,
        /// Antenna gain, dBi.
        #[arg(long, allow_negative_numbers = true)]
        gain: f64,
        /// Antenna height above ground, metres.
        #[arg(long)]
        elevation: i32,
    },
    /// Run the agent (the daemon).
    Run {
        /// The settings file.
        #[arg(long)]
        settings: PathBuf,
    },
    /// Show the running daemon's state: oracle link, last beacon, queue, radio counters.
    Status {
        /// The settings file.
        #[arg(long)]
        settings: PathBuf,
        /// Print the raw status JSON.
        #[arg(long)]
        json: bool,
    },
    /// Key commands.
    Key {
        /// The key command.
        #[command(subcommand)]
        command: KeyCommand,
    },
}

/// Key commands.
#[derive(Debug, Subcommand)]
pub enum KeyCommand {
    /// Print the hotspot's public key.
    Show {
        /// The settings file.
        #[arg(long)]
        settings: PathBuf,
    },
}

/// Runs `command`.
pub async fn execute(command: Command) -> anyhow::Result<ExitCode> {
    match command {
        Command::Init {
            dir,
            oracle,
            oracle_key,
            region,
            medium,
            medium_key,
        } => {
            let medium = medium.zip(medium_key);
            init(
                &dir,
                InitialValues {
                    oracle_address: oracle,
                    oracle_key,
                    region,
                    medium,
                },
            )
        }
        Command::Assert {
            settings,
            owner_key,
            lat,
            lng,
            gain,
            elevation,
        } => {
            assert_location(
                &settings,
                &owner_key,
                Placement {
                    lat,
                    lng,
                    gain,
                    elevation,
                },
            )
            .await
        }
        Command::Run { settings: path } => {
            let settings = Settings::load(&path)?;
            let key = hotspot_key(&settings)?;
            crate::daemon::run(&path, key, settings).await
        }
        Command::Status { settings, json } => {
            crate::daemon::show_status(&Settings::load(&settings)?, json)
        }
        Command::Key {
            command: KeyCommand::Show { settings },
        } => {
            println!("{}", hotspot_key(&Settings::load(&settings)?)?.public());
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn init(dir: &Path, values: InitialValues) -> anyhow::Result<ExitCode> {
    let settings_path = dir.join(SETTINGS_FILE);
    if settings_path.exists() {
        bail!(
            "{} already exists; not overwriting it",
            settings_path.display()
        );
    }
    let text = initial_settings(&values);
    Settings::parse(&text, dir, Vec::new()).context("the settings would be invalid")?;
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let (key, created) = Keypair::read_or_create(&dir.join(KEY_FILE))?;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&settings_path)
        .with_context(|| format!("creating {}", settings_path.display()))?;
    file.write_all(text.as_bytes())
        .with_context(|| format!("writing {}", settings_path.display()))?;
    let verb = if created { "created" } else { "kept existing" };
    eprintln!(
        "{verb} {}; wrote {}",
        dir.join(KEY_FILE).display(),
        settings_path.display()
    );
    println!("{}", key.public());
    Ok(ExitCode::SUCCESS)
}

/// Where the antenna is.
struct Placement {
    lat: f64,
    lng: f64,
    gain: f64,
    elevation: i32,
}

async fn assert_location(
    settings_path: &Path,
    owner_key: &Path,
    placement: Placement,
) -> anyhow::Result<ExitCode> {
    let settings = Settings::load(settings_path)?;
    // Check the new gain is acceptable before asking the oracle.
    let text = std::fs::read_to_string(settings_path)
        .with_context(|| format!("reading {}", settings_path.display()))?;
    let updated = with_antenna_gain(&text, placement.gain);
    let dir = settings_path.parent().unwrap_or(Path::new("."));
    Settings::parse(&updated, dir, std::env::vars()).context("--gain")?;

    let hotspot = hotspot_key(&settings)?;
    let owner = Keypair::read_file(owner_key)?;
    let cell = LatLng::new(placement.lat, placement.lng)
        .context("--lat/--lng")?
        .to_cell(Resolution::Twelve);
    let gain_ddbi = (placement.gain * 10.0).round() as i32;
    let assertion = LocationAssertion::new_signed(
        &hotspot,
        &owner,
        u64::from(cell),
        gain_ddbi,
        placement.elevation,
        SystemClock.now_ms(),
    );
    let config = settings.agent_config()?;
    let endpoint = transport::client_endpoint()?;
    let oracle = OracleClient::new(
        endpoint.clone(),
        config.oracle_addr,
        config.oracle_key,
        config.request_timeout,
    )?;
    let response = oracle
        .submit(&Request {
            msg: Some(request::Msg::AssertLocation(assertion)),
        })
        .await;
    oracle.close().await;
    let _ = tokio::time::timeout(Duration::from_secs(1), endpoint.wait_idle()).await;
    match response?.msg {
        Some(response::Msg::Ack(ack)) => {
            std::fs::write(settings_path, updated)
                .with_context(|| format!("updating {}", settings_path.display()))?;
            let duplicate = if ack.duplicate {
                " (already accepted before)"
            } else {
                ""
            };
            println!(
                "accepted{duplicate}: hotspot {} at {cell}, gain {} dBi, elevation {} m, id {}",
                hotspot.public(),
                placement.gain,
                placement.elevation,
                hex::encode(ack.id)
            );
            Ok(ExitCode::SUCCESS)
        }
        Some(response::Msg::Rejection(rejection)) => {
            println!("rejected: {:?}: {}", rejection.reason(), rejection.detail);
            Ok(ExitCode::from(1))
        }
        other => bail!("unexpected response from the oracle: {other:?}"),
    }
}

fn hotspot_key(settings: &Settings) -> anyhow::Result<Keypair> {
    Keypair::read_file(&settings.key_file)
        .context("reading the hotspot key (run `hotspot-agent init` first)")
}

/// Completes on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}
