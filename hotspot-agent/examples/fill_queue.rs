//! Fills a hotspot's durable report queue with signed witness reports, up to its bound, for
//! `scripts/footprint.sh` (the agent's footprint with a full queue).
//!
//! `cargo run --release -p hotspot-agent --example fill_queue -- SETTINGS.toml [REPORTS]`

use hotspot_agent::outbox::Outbox;
use hotspot_agent::settings::Settings;
use schemas::Keypair;
use schemas::clock::{Clock, SystemClock};
use schemas::proto::{DataRate, Request, WitnessReport, request};
use schemas::sign::SingleSigned;

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let path = args
        .next()
        .ok_or_else(|| anyhow::anyhow!("usage: fill_queue SETTINGS [REPORTS]"))?;
    let settings = Settings::load(std::path::Path::new(&path))?;
    let limits = settings.queue.limits();
    let wanted: usize = match args.next() {
        Some(n) => n.parse()?,
        None => limits.max_reports,
    };
    let key = Keypair::read_file(&settings.key_file)?;
    let outbox = Outbox::open(&settings.data_dir, limits)?;
    outbox.set_sync(false)?;
    let now_ms = SystemClock.now_ms();
    let mut dropped = 0;
    for n in 0..wanted {
        let mut data = vec![0x5A; 51];
        data[..8].copy_from_slice(&(n as u64).to_le_bytes());
        let mut report = WitnessReport {
            data,
            frequency_hz: 904_300_000,
            datarate: DataRate::Sf9bw125 as i32,
            signal_ddbm: -1100,
            snr_ddb: -50,
            timestamp_ms: now_ms,
            tmst: n as u32,
            ..Default::default()
        };
        report.sign_with(&key);
        let request = Request {
            msg: Some(request::Msg::Witness(report)),
        };
        dropped += outbox.push(&request, now_ms).dropped;
        if dropped > 0 {
            break; // full
        }
    }
    outbox.set_sync(true)?;
    println!("queue: {} reports, {} bytes", outbox.len(), outbox.bytes());
    Ok(())
}
