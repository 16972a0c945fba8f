//! Witness-graph trust on synthetic networks: an honest mesh is trusted; rings that only
//! confirm each other, forged radio statistics and unconfirmed hotspots are not.

use oracle::trust::{Distrust, Evidence, TrustParams, TrustTable, evaluate};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use schemas::PublicKey;
use std::collections::HashMap;

fn key(n: u8) -> PublicKey {
    PublicKey::from_bytes([n; 32])
}

struct Net {
    evidence: Evidence,
    owners: HashMap<PublicKey, PublicKey>,
    rng: ChaCha8Rng,
}

impl Net {
    fn new() -> Self {
        Net {
            evidence: Evidence::default(),
            owners: HashMap::new(),
            rng: ChaCha8Rng::seed_from_u64(7),
        }
    }

    fn evaluate(&self, params: &TrustParams) -> TrustTable {
        evaluate(&self.evidence, |k| self.owners.get(k).copied(), params)
    }

    fn owner(&mut self, hotspot: u8, owner: u8) {
        self.owners
            .insert(key(hotspot), key(owner.wrapping_add(150)));
    }

    /// `n` reports of `beaconer` heard by `witness` at `distance_m`, RSSI from a log-distance
    /// model with `sigma_db` of scatter (0 = exactly the model).
    fn hear(&mut self, beaconer: u8, witness: u8, distance_m: f64, n: u32, sigma_db: f64) {
        self.evidence.add_beacons(key(beaconer), u64::from(n));
        for _ in 0..n {
            let noise = if sigma_db > 0.0 {
                self.rng.random_range(-1.7..1.7) * sigma_db
            } else {
                0.0
            };
            let rssi = -5.0 - 29.0 * distance_m.log10() + noise;
            self.evidence
                .add_report(key(beaconer), key(witness), distance_m, rssi);
        }
    }

    /// Honest hotspots 1..=n, one owner each, all hearing each other at 1-6 km.
    fn honest_mesh(&mut self, n: u8) {
        for i in 1..=n {
            self.owner(i, i);
        }
        for a in 1..=n {
            for b in 1..=n {
                if a != b {
                    let d = 1000.0 + 500.0 * f64::from(a.abs_diff(b)) + 100.0 * f64::from(a);
                    self.hear(a, b, d, 3, 6.0);
                }
            }
        }
    }
}

#[test]
fn an_honest_mesh_is_trusted() {
    let mut net = Net::new();
    net.honest_mesh(6);
    let table = net.evaluate(&TrustParams::default());
    assert!(table.distrusted.is_empty(), "{:?}", table.distrusted);
    assert_eq!(table.trusted.len(), 6);
}

#[test]
fn a_ring_that_only_confirms_itself_is_not_trusted() {
    let mut net = Net::new();
    net.honest_mesh(6);
    // Three sybil owners witnessing each other, far from everyone else.
    for (i, o) in [(50, 50), (51, 51), (52, 52)] {
        net.owner(i, o);
    }
    for (a, b) in [(50, 51), (51, 52), (52, 50), (51, 50), (52, 51), (50, 52)] {
        net.hear(a, b, 3000.0, 4, 6.0);
    }
    let table = net.evaluate(&TrustParams::default());
    for ring in [50, 51, 52] {
        match table.judge(&key(ring)) {
            Err(Distrust::Unconfirmed {
                group: 3,
                group_owners: 3,
                ..
            }) => {}
            other => panic!("ring member {ring}: {other:?}"),
        }
    }
    assert!(table.judge(&key(1)).is_ok());
    // The same ring anchored by governance is trusted.
    let anchored = TrustParams {
        anchors: vec![key(50)],
        ..TrustParams::default()
    };
    assert!(net.evaluate(&anchored).judge(&key(52)).is_ok());
}

#[test]
fn same_owner_witnessing_is_no_evidence() {
    let mut net = Net::new();
    net.honest_mesh(4);
    net.owner(60, 1); // owned by hotspot 1's owner
    net.hear(60, 1, 2000.0, 10, 6.0);
    net.hear(1, 60, 2000.0, 10, 6.0);
    let table = net.evaluate(&TrustParams::default());
    assert!(
        table.judge(&key(60)).is_err(),
        "only its own owner's hotspot confirms it"
    );
}

#[test]
fn a_hotspot_confirmed_by_two_trusted_owners_is_trusted_one_is_not_enough() {
    let mut net = Net::new();
    net.honest_mesh(5);
    net.owner(70, 70);
    net.hear(70, 1, 4000.0, 3, 6.0);
    let one = net.evaluate(&TrustParams::default());
    assert!(matches!(
        one.judge(&key(70)),
        Err(Distrust::Unconfirmed {
            witnessed_by: 1,
            owners: 1,
            ..
        })
    ));
    net.hear(70, 2, 5000.0, 3, 6.0);
    let two = net.evaluate(&TrustParams::default());
    assert!(two.judge(&key(70)).is_ok());
}

#[test]
fn forged_radio_statistics_are_caught() {
    let mut net = Net::new();
    net.honest_mesh(6);
    // 7 reports RSSI exactly on a path-loss line over 2-8 km: too regular.
    net.owner(80, 80);
    for (b, d) in [
        (1, 2000.0),
        (2, 3000.0),
        (3, 4500.0),
        (4, 6000.0),
        (5, 8000.0),
    ] {
        net.hear(b, 80, d, 3, 1.0);
        net.hear(80, b, d, 3, 6.0);
    }
    // Constant -120 dBm whatever the distance.
    net.owner(81, 81);
    for (b, d) in [(1, 1000.0), (2, 5000.0), (3, 9000.0)] {
        for _ in 0..5 {
            net.evidence.add_report(key(b), key(81), d, -120.0);
        }
        net.hear(81, b, d, 3, 6.0);
    }
    // RSSI rising with distance.
    net.owner(82, 82);
    for (b, d) in [(1, 1000.0f64), (2, 3000.0), (3, 9000.0)] {
        for i in 0..5 {
            let rssi = -130.0 + 10.0 * d.log10() + f64::from(i);
            net.evidence.add_report(key(b), key(82), d, rssi);
        }
        net.hear(82, b, d, 3, 6.0);
    }
    let table = net.evaluate(&TrustParams::default());
    assert!(
        matches!(table.judge(&key(80)), Err(Distrust::RssiTooRegular { .. })),
        "{:?}",
        table.judge(&key(80))
    );
    assert!(
        matches!(table.judge(&key(81)), Err(Distrust::ConstantRssi { .. })),
        "{:?}",
        table.judge(&key(81))
    );
    assert!(
        matches!(
            table.judge(&key(82)),
            Err(Distrust::RssiIgnoresDistance { .. })
        ),
        "{:?}",
        table.judge(&key(82))
    );
    for honest in 1..=6 {
        assert!(
            table.judge(&key(honest)).is_ok(),
            "honest {honest}: {:?}",
            table.judge(&key(honest))
        );
    }
}

#[test]
fn a_hotspot_without_evidence_is_unconfirmed() {
    let table = evaluate(&Evidence::default(), |_| None, &TrustParams::default());
    assert!(matches!(
        table.judge(&key(1)),
        Err(Distrust::Unconfirmed {
            witnessed_by: 0,
            ..
        })
    ));
}

#[test]
fn hearing_neighbours_that_never_hear_back_is_one_sided() {
    let mut net = Net::new();
    net.honest_mesh(6);
    // 90 claims to hear 1, 2 and 3 strongly, beacons 5 times, and nobody ever hears it.
    net.owner(90, 90);
    for b in [1, 2, 3] {
        net.hear(b, 90, 1500.0, 4, 6.0);
    }
    net.evidence.add_beacons(key(90), 5);
    let table = net.evaluate(&TrustParams::default());
    assert!(
        matches!(
            table.judge(&key(90)),
            Err(Distrust::OneSidedLinks {
                one_sided: 3,
                strong: 3
            })
        ),
        "{:?}",
        table.judge(&key(90))
    );
    // A hotspot that never beaconed is not judged by this rule (its silence proves nothing).
    net.owner(91, 91);
    for b in [1, 2, 3] {
        net.hear(b, 91, 1500.0, 4, 6.0);
    }
    let table = net.evaluate(&TrustParams::default());
    assert!(!matches!(
        table.judge(&key(91)),
        Err(Distrust::OneSidedLinks { .. })
    ));
    for honest in 1..=6 {
        assert!(table.judge(&key(honest)).is_ok());
    }
}

/// The table (measured values to the last bit) depends on the evidence, not on the order it
/// was added in (which decides the interned ids).
#[test]
fn the_order_evidence_comes_in_changes_nothing() {
    let mut rng = ChaCha8Rng::seed_from_u64(5);
    let mut reports = Vec::new();
    for _ in 0..3_000 {
        let (b, w) = (rng.random_range(1..40u8), rng.random_range(1..40u8));
        if b != w {
            let d = 500.0 + 300.0 * f64::from(b.abs_diff(w));
            let rssi = -5.0 - 29.0 * f64::log10(d) + rng.random_range(-8.0..8.0);
            reports.push((b, w, d, rssi));
        }
    }
    let owners: HashMap<PublicKey, PublicKey> =
        (1..40u8).map(|i| (key(i), key(100 + i % 13))).collect();
    let params = TrustParams {
        min_samples: 5,
        ..TrustParams::default()
    };
    let table = |order: &[(u8, u8, f64, f64)]| {
        let mut evidence = Evidence::default();
        for (b, w, d, rssi) in order {
            evidence.add_report(key(*b), key(*w), *d, *rssi);
            evidence.add_beacons(key(*b), 1);
        }
        evaluate(&evidence, |k| owners.get(k).copied(), &params)
    };
    let forward = table(&reports);
    reports.reverse();
    assert_eq!(table(&reports), forward);
    assert!(!forward.trusted.is_empty());
}
