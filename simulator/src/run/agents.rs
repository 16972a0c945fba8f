//! Starting every hotspot of a run as its behaviour asks: the stock agent on the simulated
//! radio, or on one of the doctored radios of [`crate::adversary`], plus side tasks.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use hotspot_agent::agent::{Agent, AgentConfig};
use hotspot_agent::radio::sim::{SimRadio, SimRadioConfig};
use hotspot_agent::stats::AgentStats;
use hotspot_agent::{Radio, RadioError, RxFrame, TxDone, TxFrame};
use oracle::node::Oracle;
use schemas::PublicKey;
use schemas::clock::SharedClock;
use schemas::region::Region;
use sha2::{Digest, Sha256};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

use super::{SimError, SimHotspot, stopped};
use crate::adversary::{
    Channels, CollusionRadio, Directory, Forger, ForgingRadio, InternetHub, NoAir, Placement,
    Replayer, ReplayerConfig, Subscription,
};
use crate::medium::TruthBook;
use crate::scenario::{Behaviour, ResolvedScenario};

/// What starting the hotspots needs from the run.
pub(super) struct Launch<'a> {
    pub scenario: &'a ResolvedScenario,
    pub region: Region,
    pub oracle: &'a Oracle,
    pub beacon_interval: Duration,
    pub medium_addr: SocketAddr,
    pub medium_key: PublicKey,
    pub truth: TruthBook,
    pub clock: SharedClock,
    pub stop: watch::Receiver<bool>,
}

/// The started tasks and the agents' counters.
#[derive(Default)]
pub(super) struct Launched {
    pub tasks: Vec<JoinHandle<()>>,
    pub agent_stats: Vec<(PublicKey, Arc<AgentStats>)>,
}

/// A hotspot's place on the colluders' internet.
#[derive(Default)]
struct Wiring {
    channels: Channels,
    /// `(channel, only beacons of)`.
    subscriptions: Vec<(String, Option<PublicKey>)>,
}

impl Wiring {
    fn is_empty(&self) -> bool {
        self.subscriptions.is_empty() && self.channels.own.is_empty()
    }
}

/// The channels of every ring member, virtual witness and colluder, by key.
fn wire(hotspots: &[SimHotspot]) -> HashMap<PublicKey, Wiring> {
    let keys: HashMap<&str, PublicKey> = hotspots
        .iter()
        .map(|h| (h.spec.name.as_str(), h.key.public()))
        .collect();
    let mut wiring: HashMap<PublicKey, Wiring> = HashMap::new();
    for h in hotspots {
        let me = h.key.public();
        if let Some(ring) = &h.spec.ring {
            let channel = InternetHub::ring_channel(ring);
            let w = wiring.entry(me).or_default();
            w.channels.own.push(channel.clone());
            w.subscriptions.push((channel, None));
        }
        if h.spec.behaviour == Behaviour::VirtualWitness {
            let channel = InternetHub::relay_channel(&h.spec.name);
            let w = wiring.entry(me).or_default();
            w.channels.own.push(channel.clone());
            w.subscriptions.push((channel.clone(), None));
            for colluder in h.spec.colluders.iter().filter_map(|c| keys.get(c.as_str())) {
                let w = wiring.entry(*colluder).or_default();
                w.channels.own.push(channel.clone());
                w.channels.heard.push(channel.clone());
                w.subscriptions.push((channel.clone(), Some(me)));
            }
        }
    }
    wiring
}

/// A seed for `name`'s forger, from the scenario seed.
fn forger_seed(seed: u64, name: &str) -> u64 {
    let digest = Sha256::new()
        .chain_update(b"coverage-proof forger\0")
        .chain_update(seed.to_le_bytes())
        .chain_update(name.as_bytes())
        .finalize();
    let mut bytes = [0u8; 8];
    bytes.copy_from_slice(&digest[..8]);
    u64::from_le_bytes(bytes)
}

/// A radio on the air (or not), before any collusion.
enum BaseAir {
    Sim(SimRadio),
    Forging(Box<ForgingRadio<SimRadio>>),
    Nothing(NoAir),
}

impl Radio for BaseAir {
    async fn transmit(&mut self, frame: TxFrame) -> Result<TxDone, RadioError> {
        match self {
            BaseAir::Sim(r) => r.transmit(frame).await,
            BaseAir::Forging(r) => r.transmit(frame).await,
            BaseAir::Nothing(r) => r.transmit(frame).await,
        }
    }

    async fn recv(&mut self) -> Option<RxFrame> {
        match self {
            BaseAir::Sim(r) => r.recv().await,
            BaseAir::Forging(r) => r.recv().await,
            BaseAir::Nothing(r) => r.recv().await,
        }
    }
}

/// The radio under an agent: one type for every kind, so one agent type is spawned.
enum Air {
    Base(BaseAir),
    Colluding(Box<CollusionRadio<BaseAir>>),
}

impl Radio for Air {
    async fn transmit(&mut self, frame: TxFrame) -> Result<TxDone, RadioError> {
        match self {
            Air::Base(r) => r.transmit(frame).await,
            Air::Colluding(r) => r.transmit(frame).await,
        }
    }

    async fn recv(&mut self) -> Option<RxFrame> {
        match self {
            Air::Base(r) => r.recv().await,
            Air::Colluding(r) => r.recv().await,
        }
    }
}

/// Starts every hotspot but the offline ones.
pub(super) fn launch(l: &Launch<'_>, hotspots: &[SimHotspot]) -> Result<Launched, SimError> {
    let directory = Arc::new(Directory::new(hotspots.iter().map(|h| {
        let (lat, lng) = h.spec.asserted_position();
        let gain_dbi = h.spec.gain_dbi;
        (h.key.public(), Placement { lat, lng, gain_dbi })
    })));
    let hub = Arc::new(InternetHub::new());
    let mut wiring = wire(hotspots);
    let mut launched = Launched::default();
    for hotspot in hotspots {
        if hotspot.spec.behaviour == Behaviour::Offline {
            continue;
        }
        let forger = Forger::new(
            hotspot.key.public(),
            l.scenario.radio.clone(),
            Arc::clone(&directory),
            forger_seed(l.scenario.seed, &hotspot.spec.name),
        );
        let wiring = wiring.remove(&hotspot.key.public()).unwrap_or_default();
        let radio = radio(l, hotspot, forger, wiring, &hub)?;
        spawn_agent(l, hotspot, radio, &mut launched);
        if hotspot.spec.behaviour == Behaviour::Replay {
            spawn_replayer(l, hotspot, &mut launched);
        }
    }
    Ok(launched)
}

/// The radio `hotspot`'s behaviour (and its place among colluders) calls for.
fn radio(
    l: &Launch<'_>,
    hotspot: &SimHotspot,
    forger: Forger,
    wiring: Wiring,
    hub: &Arc<InternetHub>,
) -> Result<Air, SimError> {
    let behaviour = hotspot.spec.behaviour;
    let sim = || {
        let config = SimRadioConfig {
            address: l.medium_addr,
            medium_key: l.medium_key,
        };
        SimRadio::connect(config, hotspot.key.clone(), Arc::clone(&l.clock))
            .map_err(|e| SimError::Medium(e.to_string()))
    };
    let air = match behaviour {
        Behaviour::VirtualWitness => BaseAir::Nothing(NoAir::new(Arc::clone(&l.clock))),
        Behaviour::RssiForger | Behaviour::CollusionRing => {
            let own_forger = Forger::new(
                hotspot.key.public(),
                l.scenario.radio.clone(),
                forger.directory(),
                forger_seed(l.scenario.seed, &format!("{}/air", hotspot.spec.name)),
            );
            BaseAir::Forging(Box::new(ForgingRadio::new(
                sim()?,
                own_forger,
                l.truth.clone(),
            )))
        }
        _ => BaseAir::Sim(sim()?),
    };
    if wiring.is_empty() {
        return Ok(Air::Base(air));
    }
    let (inbox_tx, inbox) = mpsc::unbounded_channel();
    let me = hotspot.key.public();
    for (channel, only_from) in wiring.subscriptions {
        let inbox = inbox_tx.clone();
        hub.subscribe(
            &channel,
            Subscription {
                member: me,
                only_from,
                inbox,
            },
        );
    }
    let colluding = CollusionRadio::new(
        air,
        me,
        Arc::clone(hub),
        wiring.channels,
        inbox,
        forger,
        l.truth.clone(),
        Arc::clone(&l.clock),
    );
    Ok(Air::Colluding(Box::new(colluding)))
}

fn spawn_agent(l: &Launch<'_>, hotspot: &SimHotspot, radio: Air, launched: &mut Launched) {
    let config = AgentConfig {
        region: l.region,
        antenna_gain_ddbi: (hotspot.spec.gain_dbi * 10.0).round() as i32,
        oracle_addr: l.oracle.addr,
        oracle_key: l.oracle.public_key,
        beacon_interval: l.beacon_interval,
        beacon_enabled: hotspot.spec.behaviour != Behaviour::Silent,
        request_timeout: Duration::from_secs(10),
        // Reproducible beacon times and local entropy: one seed per hotspot, from the scenario's.
        rng_seed: Some(u64::from_le_bytes(
            crate::keys::derive(l.scenario.seed, "rng", &hotspot.spec.name)
                .public()
                .as_bytes()[..8]
                .try_into()
                .unwrap_or([0; 8]),
        )),
    };
    let agent = Agent::new(config, hotspot.key.clone(), Arc::clone(&l.clock));
    launched
        .agent_stats
        .push((hotspot.key.public(), agent.stats()));
    let name = hotspot.spec.name.clone();
    let shutdown = stopped(l.stop.clone());
    launched.tasks.push(tokio::spawn(async move {
        if let Err(e) = agent.run(radio, shutdown).await {
            tracing::error!(hotspot = %name, error = %e, "agent stopped");
        }
    }));
}

fn spawn_replayer(l: &Launch<'_>, hotspot: &SimHotspot, launched: &mut Launched) {
    let config = ReplayerConfig {
        key: hotspot.key.clone(),
        oracle_addr: l.oracle.addr,
        oracle_key: l.oracle.public_key,
        poll: (l.beacon_interval / 4).max(Duration::from_secs(10)),
        late_after: l.beacon_interval,
        request_timeout: Duration::from_secs(10),
    };
    let replayer = Replayer::new(config, l.oracle.store.clone(), Arc::clone(&l.clock));
    launched
        .tasks
        .push(tokio::spawn(replayer.run(stopped(l.stop.clone()))));
}
