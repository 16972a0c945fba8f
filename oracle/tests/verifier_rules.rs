//! The verification rules over sequences of proofs of coverage, with no I/O: HIP 106
//! reciprocity and its bootstrap, owner diversity, the denylist, and the two Helium bugs the
//! default ruleset fixes (oracles#779 and #793), each compared with the `helium` ruleset.

use h3o::{LatLng, Resolution};
use oracle::density::HexDensityMap;
use oracle::verifier::denylist::{DenyEntry, Denylist};
use oracle::verifier::params::{Ruleset, VerifierParams};
use oracle::verifier::poc::{Context, EntropyInfo, HotspotInfo, PocVerdict, Received, verify_poc};
use oracle::verifier::reason::{Invalid, Side};
use oracle::verifier::state::{self, StateBook};
use schemas::beacon::{self, RemoteEntropy};
use schemas::proto::{BeaconReport, WitnessReport};
use schemas::region::{Region, channel_plan};
use schemas::sign::SingleSigned;
use schemas::{Keypair, PublicKey};
use std::collections::HashMap;

const HOUR_MS: u64 = 3_600_000;
const T0: u64 = 1_763_769_600_000; // a UTC day boundary

struct World {
    params: VerifierParams,
    hotspots: HashMap<PublicKey, HotspotInfo>,
    keys: HashMap<&'static str, Keypair>,
    entropy: HashMap<Vec<u8>, EntropyInfo>,
    state: StateBook,
    denylist: Denylist,
    density: HexDensityMap,
    seq: u8,
}

impl World {
    /// Three hotspots 2 km apart in Oakland; `a` and `b` belong to one owner when `shared_owner`.
    fn new(ruleset: Ruleset, shared_owner: bool) -> Self {
        let params = VerifierParams::for_ruleset(ruleset);
        let mut world = World {
            density: HexDensityMap::new(std::iter::empty(), &params.density),
            params,
            hotspots: HashMap::new(),
            keys: HashMap::new(),
            entropy: HashMap::new(),
            state: StateBook::new(),
            denylist: Denylist::default(),
            seq: 0,
        };
        world.add("a", 37.8044, -122.2712, 1);
        world.add("b", 37.8224, -122.2712, if shared_owner { 1 } else { 2 });
        world.add("c", 37.8044, -122.2485, 3);
        world
    }

    fn add(&mut self, name: &'static str, lat: f64, lng: f64, owner: u8) {
        let key = Keypair::from_seed([name.as_bytes()[0]; 32]);
        let location = LatLng::new(lat, lng)
            .expect("coords")
            .to_cell(Resolution::Twelve);
        let info = HotspotInfo {
            owner: PublicKey::from_bytes([owner; 32]),
            location,
            gain_ddbi: 30,
            elevation_m: 5,
            region: Some(Region::Us915),
            full_hotspot: true,
            asserted_ms: 0,
        };
        self.hotspots.insert(key.public(), info);
        self.keys.insert(name, key);
    }

    /// `beaconer` beacons at `at_ms`, heard by `witnesses` 500 ms later; the verdict is applied
    /// to the state as the runner does.
    fn poc(&mut self, beaconer: &str, witnesses: &[&str], at_ms: u64) -> PocVerdict {
        self.seq += 1;
        let remote = vec![self.seq; 32];
        self.entropy.insert(
            remote.clone(),
            EntropyInfo {
                timestamp_ms: at_ms - 10_000,
                version: 0,
            },
        );
        let plan = channel_plan(Region::Us915).expect("plan");
        let entropy = RemoteEntropy {
            data: &remote,
            timestamp_ms: at_ms - 10_000,
            version: 0,
        };
        let derived = beacon::derive(entropy, &[1, 2, 3, 4], plan, 30).expect("derive");
        let mut report = BeaconReport {
            local_entropy: vec![1, 2, 3, 4],
            remote_entropy: remote,
            data: derived.data.clone(),
            frequency_hz: derived.frequency_hz,
            datarate: derived.datarate as i32,
            tx_power_ddbm: 270,
            ..Default::default()
        };
        report.sign_with(&self.keys[beaconer]);
        let beacon = Received {
            id: [self.seq; 32],
            received_ms: at_ms,
            report,
        };
        let witnesses: Vec<Received<WitnessReport>> = witnesses
            .iter()
            .enumerate()
            .map(|(i, name)| {
                let mut w = WitnessReport {
                    data: derived.data.clone(),
                    signal_ddbm: -1100,
                    snr_ddb: 20,
                    frequency_hz: derived.frequency_hz,
                    datarate: derived.datarate as i32,
                    ..Default::default()
                };
                w.sign_with(&self.keys[name]);
                Received {
                    id: [self.seq.wrapping_add(100 + i as u8); 32],
                    received_ms: at_ms + 500,
                    report: w,
                }
            })
            .collect();
        let verdict = {
            let ctx = Context {
                params: &self.params,
                hotspots: &self.hotspots,
                entropy: &self.entropy,
                density: &self.density,
                state: &self.state,
                denylist: &self.denylist,
                trust: None,
            };
            verify_poc(&beacon, &witnesses, &ctx)
        };
        state::apply(&mut self.state, &verdict, &self.params.checks);
        verdict
    }

    fn key(&self, name: &str) -> PublicKey {
        self.keys[name].public()
    }
}

fn witness_reason(verdict: &PocVerdict, i: usize) -> Option<(Side, &'static str)> {
    verdict.witnesses[i]
        .outcome
        .as_ref()
        .err()
        .map(|(side, reason)| (*side, reason.code()))
}

#[test]
fn reciprocity_bootstraps_after_one_exchange() {
    for ruleset in [Ruleset::Helium, Ruleset::Default] {
        let mut w = World::new(ruleset, false);
        // First beacon ever: the beaconer has never witnessed, the witness never beaconed.
        let first = w.poc("a", &["b"], T0 + HOUR_MS);
        assert!(
            matches!(
                first.outcome,
                Err(Invalid::GatewayNoValidWitnesses { since_ms: None, .. })
            ),
            "{ruleset}"
        );
        assert_eq!(
            witness_reason(&first, 0),
            Some((Side::Beaconer, "gateway_no_valid_witnesses"))
        );
        assert!(
            first.witnesses[0].passed_regular,
            "b's witness still counts for its own reciprocity"
        );
        // b has now witnessed, and a has beaconed with a witness: b's beacon heard by a is valid.
        let second = w.poc("b", &["a"], T0 + HOUR_MS + 60_000);
        assert_eq!(second.outcome, Ok(()), "{ruleset}");
        assert_eq!((second.valid_witnesses, second.selected_witnesses), (1, 1));
        assert_eq!(second.reward_units_e4, 2_500);
        assert_eq!(second.witnesses[0].reward_units_e4, 10_000);
        // A hotspot that never beaconed witnesses invalidly.
        let third = w.poc("b", &["c"], T0 + 7 * HOUR_MS);
        assert_eq!(
            witness_reason(&third, 0),
            Some((Side::Witness, "gateway_no_valid_beacons")),
            "{ruleset}"
        );
    }
}

#[test]
fn reciprocity_expires_after_its_window() {
    let mut w = World::new(Ruleset::Default, false);
    w.poc("a", &["b"], T0 + HOUR_MS);
    w.poc("b", &["a"], T0 + HOUR_MS + 60_000);
    let valid = w.poc("a", &["b"], T0 + 7 * HOUR_MS);
    assert_eq!(valid.outcome, Ok(()));
    // 49 hours later, nobody has witnessed anything since: reciprocity has lapsed.
    let late = w.poc("a", &["b"], T0 + 56 * HOUR_MS);
    assert!(
        matches!(late.outcome, Err(Invalid::GatewayNoValidWitnesses { since_ms: Some(s), window_ms }) if s > window_ms)
    );
}

#[test]
fn a_witness_of_the_beaconers_owner_earns_nothing_under_default() {
    for (ruleset, expected) in [
        (Ruleset::Helium, None),
        (Ruleset::Default, Some((Side::Witness, "same_owner"))),
    ] {
        let mut w = World::new(ruleset, true);
        w.poc("a", &["c"], T0 + HOUR_MS);
        w.poc("c", &["a", "b"], T0 + HOUR_MS + 60_000);
        w.poc("b", &["c"], T0 + HOUR_MS + 120_000);
        let poc = w.poc("a", &["b", "c"], T0 + 7 * HOUR_MS);
        assert_eq!(poc.outcome, Ok(()), "{ruleset}");
        assert_eq!(
            witness_reason(&poc, 0),
            expected,
            "{ruleset}: a and b share an owner"
        );
        let counted = if expected.is_some() { 1 } else { 2 };
        assert_eq!(
            poc.valid_witnesses, counted,
            "{ruleset}: a same-owner witness does not count"
        );
    }
}

#[test]
fn denylisted_keys_and_edges_are_refused_until_they_expire() {
    let mut w = World::new(Ruleset::Default, false);
    w.poc("a", &["b", "c"], T0 + HOUR_MS);
    w.poc("b", &["a", "c"], T0 + HOUR_MS + 60_000);
    w.poc("c", &["a", "b"], T0 + HOUR_MS + 120_000);
    let entry = |reason: &str| DenyEntry {
        reason: reason.into(),
        from_ms: T0,
        expires_ms: T0 + 10 * HOUR_MS,
    };
    w.denylist.deny_key(w.key("c"), entry("spoofed location"));
    w.denylist
        .deny_edge(w.key("b"), w.key("a"), entry("collusion ring"));
    let poc = w.poc("a", &["b", "c"], T0 + 7 * HOUR_MS);
    assert_eq!(
        witness_reason(&poc, 0),
        Some((Side::Witness, "denied_edge"))
    );
    assert_eq!(witness_reason(&poc, 1), Some((Side::Witness, "denied")));
    let denied = w.poc("c", &["a"], T0 + 7 * HOUR_MS + 1);
    assert!(
        matches!(&denied.outcome, Err(Invalid::Denied { reason }) if reason == "spoofed location")
    );
    // After expiry nothing is refused.
    let later = w.poc("a", &["b", "c"], T0 + 13 * HOUR_MS);
    assert_eq!(later.valid_witnesses, 2, "{:?}", later.witnesses);
}

#[test]
fn zero_witness_beacons_advance_the_schedule_only_under_default() {
    // oracles#779: Helium did not advance the beacon schedule for a beacon without witnesses,
    // so a hotspot could beacon (validly, as far as the schedule goes) again and again.
    for (ruleset, second_is_irregular) in [(Ruleset::Helium, false), (Ruleset::Default, true)] {
        let mut w = World::new(ruleset, false);
        let lonely = w.poc("a", &[], T0 + HOUR_MS);
        assert!(lonely.passed_regular);
        let again = w.poc("a", &[], T0 + 2 * HOUR_MS);
        assert_eq!(
            matches!(again.outcome, Err(Invalid::IrregularInterval { .. })),
            second_is_irregular,
            "{ruleset}"
        );
    }
}

#[test]
fn failing_reciprocity_keeps_a_hotspot_out_of_density_only_under_default() {
    // oracles#793: a hotspot whose beacon failed reciprocity still counted as active.
    for (ruleset, active) in [(Ruleset::Helium, true), (Ruleset::Default, false)] {
        let mut w = World::new(ruleset, false);
        let poc = w.poc("a", &["b"], T0 + HOUR_MS);
        assert!(matches!(
            poc.outcome,
            Err(Invalid::GatewayNoValidWitnesses { .. })
        ));
        let a = w.state.get(&w.key("a")).copied().unwrap_or_default();
        assert_eq!(a.last_active_ms.is_some(), active, "{ruleset}");
    }
}
