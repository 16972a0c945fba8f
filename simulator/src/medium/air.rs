//! The deterministic core of the medium: who hears a transmission, and what they report.
//!
//! No sockets and no clock: [`Air::transmit`] takes the transmission time from its caller. Each
//! reception draws from its own ChaCha RNG, seeded by the run's seed, the transmitter, how many
//! times it has transmitted before and the receiver: a node's n-th transmission is heard the
//! same way whatever other nodes transmit, and in whatever order. So an attack scenario and its
//! baseline give the honest hotspots' packets the same radio draws, and comparing what honest
//! hotspots earn in the two measures the attack, not the luck of the draw.

use std::collections::BTreeMap;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use schemas::PublicKey;
use schemas::proto::{DataRate, MediumReception, MediumTransmit, MediumTxDone};
use sha2::{Digest, Sha256};

use super::Node;
use crate::radio_model::{Link, RadioParams, haversine_m, link_shadowing_db};

/// Why a transmit request is malformed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TransmitError {
    /// The datarate field is unknown or unspecified.
    #[error("datarate {0} is not a LoRa spreading factor and bandwidth")]
    DataRate(i32),
    /// The frequency field is zero.
    #[error("frequency must be non-zero")]
    Frequency,
}

/// A transmit request whose fields have been checked.
#[derive(Debug, Clone, PartialEq)]
pub struct Transmit {
    payload: Vec<u8>,
    frequency_hz: u64,
    datarate: DataRate,
    sf: u8,
    bandwidth_hz: u32,
    tx_power_ddbm: i32,
}

impl TryFrom<MediumTransmit> for Transmit {
    type Error = TransmitError;

    fn try_from(request: MediumTransmit) -> Result<Self, Self::Error> {
        let datarate = DataRate::try_from(request.datarate)
            .map_err(|_| TransmitError::DataRate(request.datarate))?;
        let (Some(sf), Some(bandwidth_hz)) = (datarate.spreading_factor(), datarate.bandwidth_hz())
        else {
            return Err(TransmitError::DataRate(request.datarate));
        };
        if request.frequency_hz == 0 {
            return Err(TransmitError::Frequency);
        }
        Ok(Self {
            payload: request.payload,
            frequency_hz: request.frequency_hz,
            datarate,
            sf,
            bandwidth_hz,
            tx_power_ddbm: request.tx_power_ddbm,
        })
    }
}

impl Transmit {
    /// The PHY payload.
    pub fn payload(&self) -> &[u8] {
        &self.payload
    }
}

/// What one transmission did.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    /// The answer to the transmitter.
    pub tx_done: MediumTxDone,
    /// Receptions by node, in key order.
    pub heard: Vec<(PublicKey, MediumReception)>,
    /// Nodes in range that did not demodulate the packet.
    pub lost: Vec<PublicKey>,
}

/// A node as the medium keeps it: its true position and its receive counter's offset.
#[derive(Debug, Clone)]
struct Station {
    node: Node,
    tmst_offset_us: u32,
}

/// Every node's radio, the physics and the RNG.
#[derive(Debug)]
pub struct Air {
    params: RadioParams,
    seed: u64,
    epoch_ns: u64,
    stations: BTreeMap<PublicKey, Station>,
    /// Transmissions so far per transmitter.
    sent: BTreeMap<PublicKey, u64>,
}

impl Air {
    /// The air over `nodes`; counters start at `epoch_ns` (plus a random per-node offset).
    /// A key listed twice keeps its last entry.
    pub fn new(params: RadioParams, nodes: Vec<Node>, seed: u64, epoch_ns: u64) -> Self {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut stations = BTreeMap::new();
        for node in nodes {
            stations.insert(node.key, node);
        }
        let stations = stations
            .into_iter()
            .map(|(key, node)| {
                let tmst_offset_us = rng.random();
                (
                    key,
                    Station {
                        node,
                        tmst_offset_us,
                    },
                )
            })
            .collect();
        Self {
            params,
            seed,
            epoch_ns,
            stations,
            sent: BTreeMap::new(),
        }
    }

    /// Whether `key` is one of the nodes.
    pub fn knows(&self, key: &PublicKey) -> bool {
        self.stations.contains_key(key)
    }

    /// The keys of every node, in order.
    pub fn keys(&self) -> impl Iterator<Item = &PublicKey> {
        self.stations.keys()
    }

    /// `key`'s free-running microsecond counter at `time_ns` (wraps like an SX130x `tmst`).
    pub fn tmst(&self, key: &PublicKey, time_ns: u64) -> u32 {
        let offset = self.stations.get(key).map_or(0, |s| s.tmst_offset_us);
        let elapsed_us = time_ns.saturating_sub(self.epoch_ns) / 1_000;
        // Truncation is the counter's wrap-around.
        offset.wrapping_add(elapsed_us as u32)
    }

    /// `from` sends `transmit` at `now_ns`: every other node within range gets one draw of the
    /// radio model from its own RNG (see the module docs). Returns `None` if `from` is not a
    /// node.
    pub fn transmit(
        &mut self,
        from: &PublicKey,
        transmit: &Transmit,
        now_ns: u64,
    ) -> Option<Outcome> {
        let sender = self.stations.get(from)?.node.clone();
        let count = self.sent.entry(*from).or_default();
        let sequence = *count;
        *count += 1;
        let tx_done = MediumTxDone {
            radio_timestamp_ns: now_ns,
            tmst: self.tmst(from, now_ns),
            tx_power_ddbm: transmit.tx_power_ddbm,
        };
        let mut outcome = Outcome {
            tx_done,
            heard: Vec::new(),
            lost: Vec::new(),
        };
        let receivers: Vec<Node> = self
            .stations
            .values()
            .filter(|s| s.node.key != *from)
            .map(|s| s.node.clone())
            .collect();
        for receiver in receivers {
            let link = self.link(&sender, &receiver, transmit);
            if link.distance_m > self.params.max_range_km * 1000.0 {
                continue;
            }
            let mut rng = reception_rng(self.seed, from, sequence, &receiver.key);
            match self.params.receive(&link, &mut rng) {
                Some(reception) => {
                    let offset_ns =
                        (reception.time_of_flight_ns + reception.timestamp_error_ns).round();
                    // Offsets are microseconds at most; the conversion cannot overflow.
                    let at_ns = now_ns.saturating_add_signed(offset_ns as i64);
                    let report = MediumReception {
                        payload: transmit.payload.clone(),
                        frequency_hz: transmit.frequency_hz,
                        datarate: transmit.datarate.into(),
                        rssi_ddbm: deci(reception.rssi_dbm),
                        snr_ddb: deci(reception.snr_db),
                        radio_timestamp_ns: at_ns,
                        tmst: self.tmst(&receiver.key, at_ns),
                    };
                    outcome.heard.push((receiver.key, report));
                }
                None => outcome.lost.push(receiver.key),
            }
        }
        Some(outcome)
    }

    /// The link from `tx` to `rx` for `transmit`.
    fn link(&self, tx: &Node, rx: &Node, transmit: &Transmit) -> Link {
        Link {
            distance_m: haversine_m(tx.lat, tx.lng, rx.lat, rx.lng),
            freq_hz: transmit.frequency_hz,
            sf: transmit.sf,
            bandwidth_hz: transmit.bandwidth_hz,
            tx_power_dbm: f64::from(transmit.tx_power_ddbm) / 10.0,
            tx_gain_dbi: tx.gain_dbi,
            rx_gain_dbi: rx.gain_dbi,
            link_shadowing_db: link_shadowing_db(
                self.seed,
                tx.key.as_bytes(),
                rx.key.as_bytes(),
                self.params.link_shadowing_sigma_db,
            ),
        }
    }
}

/// The RNG of the reception by `receiver` of `transmitter`'s transmission number `sequence`
/// (from 0): SHA-256 of a domain tag, the seed, the keys and the number seeds a ChaCha RNG, so
/// the draws are stable across runs, platforms and Rust versions.
fn reception_rng(
    seed: u64,
    transmitter: &PublicKey,
    sequence: u64,
    receiver: &PublicKey,
) -> ChaCha8Rng {
    let mut hasher = Sha256::new();
    hasher.update(b"coverage-proof/reception\0");
    hasher.update(seed.to_le_bytes());
    hasher.update(transmitter.as_bytes());
    hasher.update(sequence.to_le_bytes());
    hasher.update(receiver.as_bytes());
    ChaCha8Rng::from_seed(hasher.finalize().into())
}

/// Tenths of a unit, rounded (values are bounded by the physics, far inside `i32`).
fn deci(value: f64) -> i32 {
    (value * 10.0).round() as i32
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(seed: u8, lat: f64) -> Node {
        let key = schemas::Keypair::from_seed([seed; 32]).public();
        Node {
            key,
            lat,
            lng: 0.0,
            gain_dbi: 3.0,
            elevation_m: 5.0,
        }
    }

    fn transmit() -> Transmit {
        let request = MediumTransmit {
            payload: vec![1, 2, 3],
            frequency_hz: 904_600_000,
            datarate: DataRate::Sf10bw125.into(),
            tx_power_ddbm: 270,
        };
        Transmit::try_from(request).expect("valid")
    }

    fn air(seed: u64) -> Air {
        let nodes = vec![node(1, 0.0), node(2, 0.01), node(3, 0.02), node(4, 5.0)];
        Air::new(RadioParams::default(), nodes, seed, 1_000_000_000)
    }

    #[test]
    fn same_seed_and_order_give_same_outcomes() {
        let from = node(1, 0.0).key;
        let run = |seed| {
            let mut air = air(seed);
            (0..50)
                .map(|i| air.transmit(&from, &transmit(), 2_000_000_000 + i * 1_000_000))
                .collect::<Vec<_>>()
        };
        assert_eq!(run(5), run(5));
        assert_ne!(run(5), run(6));
    }

    #[test]
    fn other_transmitters_do_not_change_a_nodes_draws() {
        let (a, b) = (node(1, 0.0).key, node(3, 0.02).key);
        // What the radio drew: who heard it, at what RSSI and SNR, and who lost it.
        let heard = |outcome: Option<Outcome>| {
            let outcome = outcome.expect("known");
            let draws: Vec<(PublicKey, i32, i32)> = outcome
                .heard
                .iter()
                .map(|(k, r)| (*k, r.rssi_ddbm, r.snr_ddb))
                .collect();
            (draws, outcome.lost)
        };
        // a alone, three times.
        let mut alone = air(5);
        let solo: Vec<_> = (0..3)
            .map(|i| heard(alone.transmit(&a, &transmit(), 2_000_000_000 + i * 1_000_000)))
            .collect();
        // The same three, with b transmitting before and between them.
        let mut busy = air(5);
        let mut mixed = Vec::new();
        for i in 0..3 {
            busy.transmit(&b, &transmit(), 1_500_000_000 + i * 1_000_000);
            mixed.push(heard(busy.transmit(
                &a,
                &transmit(),
                2_000_000_000 + i * 1_000_000,
            )));
        }
        assert_eq!(solo, mixed);
        // Each of a's transmissions draws anew.
        assert_ne!(solo[0], solo[1]);
    }

    #[test]
    fn sender_and_far_nodes_hear_nothing() {
        let mut air = air(1);
        let from = node(1, 0.0).key;
        let outcome = air
            .transmit(&from, &transmit(), 2_000_000_000)
            .expect("known");
        let heard: Vec<PublicKey> = outcome.heard.iter().map(|(k, _)| *k).collect();
        assert!(!heard.contains(&from));
        assert!(!heard.contains(&node(4, 5.0).key));
        assert!(heard.contains(&node(2, 0.01).key), "{outcome:?}");
        assert_eq!(outcome.tx_done.tx_power_ddbm, 270);
        assert!(air.transmit(&node(9, 0.0).key, &transmit(), 0).is_none());
    }

    #[test]
    fn counters_wrap_and_differ_per_node() {
        let air = air(1);
        let (a, b) = (node(1, 0.0).key, node(2, 0.0).key);
        assert_ne!(air.tmst(&a, 1_000_000_000), air.tmst(&b, 1_000_000_000));
        let start = air.tmst(&a, 1_000_000_000);
        assert_eq!(air.tmst(&a, 1_000_250_000), start.wrapping_add(250));
        let wrap_ns = 1_000_000_000 + (1u64 << 32) * 1_000;
        assert_eq!(air.tmst(&a, wrap_ns), start);
    }

    #[test]
    fn malformed_transmits_are_refused() {
        let bad = |datarate, frequency_hz| {
            let request = MediumTransmit {
                datarate,
                frequency_hz,
                ..Default::default()
            };
            Transmit::try_from(request)
        };
        assert_eq!(bad(0, 1), Err(TransmitError::DataRate(0)));
        assert_eq!(bad(99, 1), Err(TransmitError::DataRate(99)));
        assert_eq!(
            bad(DataRate::Sf7bw125.into(), 0),
            Err(TransmitError::Frequency)
        );
    }
}
