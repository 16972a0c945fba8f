use super::*;
use proptest::prelude::*;
use schemas::parameters::{Emission, HexBoost, Split};

fn key(n: u8) -> Key {
    [n; 32]
}

/// A real res-12 cell near Livermore, CA, shifted by `i` steps of ~0.01 degrees.
fn cell(i: u32) -> u64 {
    let ll = h3o::LatLng::new(37.68 + f64::from(i) * 0.01, -121.77).expect("lat/lng");
    u64::from(ll.to_cell(h3o::Resolution::Twelve))
}

fn res8(location: u64) -> String {
    let cell = h3o::CellIndex::try_from(location).expect("cell");
    format!(
        "{:x}",
        u64::from(cell.parent(h3o::Resolution::Eight).expect("parent"))
    )
}

fn params(emission: u64) -> ParameterSet {
    ParameterSet {
        emission: Emission {
            per_epoch: emission,
            genesis_epoch: 0,
            halving_epochs: 0,
        },
        ..ParameterSet::default()
    }
}

fn header() -> EpochHeader {
    EpochHeader {
        epoch: 7,
        reports_digest: [9; 32],
    }
}

fn beacon(h: u8, owner: u8, location: u64, scale: u32, units: u32) -> BeaconEvent {
    BeaconEvent {
        beaconer: key(h),
        owner: key(owner),
        location,
        hex_scale_e4: scale,
        reward_units_e4: units,
    }
}

fn witness(h: u8, owner: u8, location: u64, scale: u32, units: u32) -> WitnessEvent {
    WitnessEvent {
        witness: key(h),
        owner: key(owner),
        location,
        beaconer_scale_e4: scale,
        reward_units_e4: units,
    }
}

#[test]
fn hand_computed_epoch() {
    // Emission 1,000,000: beacon pool 160,000 (16%), witness pool 640,000 (64%).
    // Beacon shares: A 1.0 x 1.0, B 0.5 x 1.0, C 0.25 x 0.25 -> 1e12, 5e11, 6.25e10 (1e-12);
    // total 1.5625e12 -> 102,400 / 51,200 / 6,400 exactly.
    // Witness shares: three equal -> floor(640,000 / 3) = 213,333 each, 1 unit of dust.
    let beacons = [
        beacon(1, 100, cell(0), 10_000, 10_000),
        beacon(2, 100, cell(1), 5_000, 10_000),
        beacon(3, 200, cell(2), 2_500, 2_500),
    ];
    let witnesses = [
        witness(1, 100, cell(0), 10_000, 10_000),
        witness(2, 100, cell(1), 10_000, 10_000),
        witness(3, 200, cell(2), 10_000, 10_000),
    ];
    let m = manifest_from_events(&beacons, &witnesses, &params(1_000_000), &header())
        .expect("manifest");
    assert_eq!(
        (m.emission, m.beacon_pool, m.witness_pool),
        (1_000_000, 160_000, 640_000)
    );
    let amounts: Vec<(u64, u64, u64, u64)> = m
        .hotspots
        .iter()
        .map(|h| {
            (
                h.beacon_amount,
                h.witness_amount,
                h.beacon_shares,
                h.witness_shares,
            )
        })
        .collect();
    assert_eq!(
        amounts,
        vec![
            (102_400, 213_333, 1_000_000_000_000, 1_000_000_000_000),
            (51_200, 213_333, 500_000_000_000, 1_000_000_000_000),
            (6_400, 213_333, 62_500_000_000, 1_000_000_000_000),
        ]
    );
    let owners: Vec<(Vec<u8>, u64)> = m
        .owners
        .iter()
        .map(|o| (o.owner_key.clone(), o.amount))
        .collect();
    assert_eq!(
        owners,
        vec![(key(100).to_vec(), 580_266), (key(200).to_vec(), 219_733)]
    );
    assert_eq!(m.total_paid, 799_999);
    // 200,000 outside the split + 1 unit of witness rounding dust.
    assert_eq!(m.unallocated, 200_001);
    assert_eq!(m.reports, 6);
    assert_eq!(m.epoch, 7);
    assert_eq!(m.start_ms, 7 * 86_400_000);
    assert_eq!(m.parameters_hash, params(1_000_000).hash().to_vec());
    assert_eq!(m.reports_digest, vec![9; 32]);
}

#[test]
fn an_empty_pool_is_wholly_unallocated() {
    let m = manifest_from_events(
        &[beacon(1, 100, cell(0), 10_000, 10_000)],
        &[],
        &params(1_000_000),
        &header(),
    )
    .expect("manifest");
    assert_eq!(m.total_paid, 160_000);
    assert_eq!(m.unallocated, 840_000);
    let none = manifest(&EpochInputs::new(), &params(1_000_000), &header()).expect("empty");
    assert!(none.owners.is_empty() && none.hotspots.is_empty());
    assert_eq!((none.total_paid, none.unallocated), (0, 1_000_000));
}

#[test]
fn a_boosted_hex_triples_the_witness_share_there() {
    let mut set = params(1_000_000);
    set.hex_boosts.push(HexBoost {
        cell: res8(cell(0)),
        multiplier_e4: 30_000,
        start_epoch: 5,
        end_epoch: 7,
    });
    let witnesses = [
        witness(1, 100, cell(0), 10_000, 10_000),
        witness(2, 200, cell(5), 10_000, 10_000),
    ];
    let m = manifest_from_events(&[], &witnesses, &set, &header()).expect("manifest");
    // Shares 3 : 1 of the 640,000 witness pool.
    assert_eq!(m.hotspots[0].witness_amount, 480_000);
    assert_eq!(m.hotspots[1].witness_amount, 160_000);
    // Outside its epoch range the boost does nothing.
    let later = EpochHeader {
        epoch: 8,
        ..header()
    };
    let m = manifest_from_events(&[], &witnesses, &set, &later).expect("manifest");
    assert_eq!(m.hotspots[0].witness_amount, 320_000);
}

#[test]
fn a_beacon_is_boosted_where_it_was_verified_and_overlaps_take_the_largest() {
    let mut set = params(1_000_000);
    for (cell_text, multiplier_e4) in [(res8(cell(0)), 20_000), (res8(cell(0)), 50_000)] {
        set.hex_boosts.push(HexBoost {
            cell: cell_text,
            multiplier_e4,
            start_epoch: 0,
            end_epoch: 100,
        });
    }
    let boosts = Boosts::active(&set, 7);
    assert_eq!(boosts.multiplier_e4(cell(0)), 50_000);
    assert_eq!(boosts.multiplier_e4(cell(5)), NO_BOOST_E4);
    assert_eq!(boosts.multiplier_e4(0), NO_BOOST_E4, "not a cell");
    let beacons = [
        beacon(1, 100, cell(0), 10_000, 10_000),
        beacon(2, 200, cell(5), 10_000, 10_000),
    ];
    let m = manifest_from_events(&beacons, &[], &set, &header()).expect("manifest");
    // 5 : 1 of 160,000 -> 133,333 and 26,666, 1 unit of dust.
    assert_eq!(m.hotspots[0].beacon_amount, 133_333);
    assert_eq!(m.hotspots[1].beacon_amount, 26_666);
    assert_eq!(m.unallocated, 1_000_000 - 159_999);
}

#[test]
fn two_owners_for_one_hotspot_are_refused() {
    let err = manifest_from_events(
        &[beacon(1, 100, cell(0), 1, 1)],
        &[witness(1, 200, cell(0), 1, 1)],
        &params(10),
        &header(),
    )
    .expect_err("conflict");
    assert!(matches!(err, ComputeError::OwnerConflict { .. }), "{err}");
}

#[test]
fn slots_are_checked() {
    let dup =
        EpochInputs::with_hotspots([(key(1), key(100)), (key(2), key(100)), (key(1), key(100))])
            .expect_err("a hotspot given twice");
    assert!(
        matches!(dup, ComputeError::DuplicateHotspot { .. }),
        "{dup}"
    );

    let mut inputs =
        EpochInputs::with_hotspots([(key(1), key(100)), (key(2), key(101))]).expect("distinct");
    let missing = inputs
        .add_witness_at(2, cell(0), 1, 1)
        .expect_err("two slots");
    assert_eq!(missing, ComputeError::NoSuchSlot { slot: 2, slots: 2 });
    // A hotspot given with its owner cannot be paid to another one by key.
    let conflict = inputs
        .add_beacon(&beacon(2, 100, cell(0), 1, 1))
        .expect_err("owner 101 was given");
    assert!(
        matches!(conflict, ComputeError::OwnerConflict { .. }),
        "{conflict}"
    );
    assert_eq!((inputs.reports(), inputs.hotspot_count()), (0, 0));

    // By key and by slot reach the same hotspot; a new key takes the next slot.
    inputs
        .add_beacon(&beacon(2, 101, cell(0), 1, 1))
        .expect("given owner");
    inputs.add_witness_at(1, cell(0), 1, 1).expect("slot 1");
    inputs
        .add_witness(&witness(3, 102, cell(0), 1, 1))
        .expect("new hotspot");
    let listed: Vec<(usize, Key)> = inputs.hotspots().map(|(slot, key)| (slot, *key)).collect();
    assert_eq!(listed, vec![(1, key(2)), (2, key(3))]);
    assert_eq!((inputs.reports(), inputs.hotspot_count()), (3, 2));
}

#[test]
fn the_manifest_does_not_depend_on_event_order() {
    let beacons: Vec<BeaconEvent> = (0..40u8)
        .map(|i| {
            beacon(
                i,
                i % 7,
                cell(u32::from(i % 5)),
                1_000 + u32::from(i) * 37,
                2_500 * u32::from(i % 9),
            )
        })
        .collect();
    let witnesses: Vec<WitnessEvent> = (0..40u8)
        .map(|i| witness(i / 2, (i / 2) % 7, cell(u32::from(i % 3)), 9_000, 7_600))
        .collect();
    let mut set = params(123_456_789);
    set.hex_boosts.push(HexBoost {
        cell: res8(cell(1)),
        multiplier_e4: 15_000,
        start_epoch: 0,
        end_epoch: 10,
    });
    let a = manifest_from_events(&beacons, &witnesses, &set, &header()).expect("a");
    let mut rb = beacons.clone();
    rb.reverse();
    let mut rw = witnesses.clone();
    rw.rotate_left(13);
    let b = manifest_from_events(&rb, &rw, &set, &header()).expect("b");
    assert_eq!(manifest_hash(&a), manifest_hash(&b));
    assert_eq!(a.encode_to_vec(), b.encode_to_vec());
}

/// Checks every invariant of a computed manifest.
fn check_conservation(m: &RewardManifest, params: &ParameterSet, epoch: u64) {
    assert_eq!(m.emission, params.emission_for(epoch));
    assert_eq!(m.total_paid.checked_add(m.unallocated), Some(m.emission));
    let owner_sum: u128 = m.owners.iter().map(|o| u128::from(o.amount)).sum();
    assert_eq!(owner_sum, u128::from(m.total_paid));
    let mut per_owner: BTreeMap<Vec<u8>, u64> = BTreeMap::new();
    let (mut beacons, mut witnesses) = (0u128, 0u128);
    for h in &m.hotspots {
        assert!(
            h.beacon_amount + h.witness_amount > 0,
            "zero rows are left out"
        );
        *per_owner.entry(h.owner_key.clone()).or_default() += h.beacon_amount + h.witness_amount;
        beacons += u128::from(h.beacon_amount);
        witnesses += u128::from(h.witness_amount);
    }
    let owners: BTreeMap<Vec<u8>, u64> = m
        .owners
        .iter()
        .map(|o| (o.owner_key.clone(), o.amount))
        .collect();
    assert_eq!(
        owners, per_owner,
        "each owner gets exactly the sum of its hotspots"
    );
    assert!(beacons <= u128::from(m.beacon_pool) && witnesses <= u128::from(m.witness_pool));
    // Rounding dust is below one base unit per hotspot (at most 24 in these tests).
    if beacons > 0 {
        assert!(u128::from(m.beacon_pool) - beacons < 24);
    }
    if witnesses > 0 {
        assert!(u128::from(m.witness_pool) - witnesses < 24);
    }
    assert!(
        m.hotspots
            .windows(2)
            .all(|w| w[0].hotspot_key < w[1].hotspot_key)
    );
    assert!(m.owners.windows(2).all(|w| w[0].owner_key < w[1].owner_key));
}

#[derive(Debug, Clone)]
struct Event {
    beacon: bool,
    hotspot: u8,
    location: u32,
    scale: u32,
    units: u32,
}

fn extreme_u32() -> impl Strategy<Value = u32> {
    prop_oneof![Just(0u32), Just(u32::MAX), 0u32..=20_000, any::<u32>()]
}

fn events(value: BoxedStrategy<u32>) -> impl Strategy<Value = Vec<Event>> {
    prop::collection::vec(
        (any::<bool>(), 0u8..24, 0u32..6, value.clone(), value).prop_map(
            |(beacon, hotspot, location, scale, units)| Event {
                beacon,
                hotspot,
                location,
                scale,
                units,
            },
        ),
        0..80,
    )
}

fn set_strategy() -> impl Strategy<Value = (ParameterSet, u64)> {
    (
        prop_oneof![
            Just(u64::MAX),
            Just(0u64),
            Just(1u64),
            any::<u64>(),
            0u64..10_000_000
        ],
        0u32..=10_000,
        0u32..=10_000,
        prop_oneof![Just(u32::MAX), Just(0u32), 0u32..200_000],
        0u64..3,
        0u64..40,
    )
        .prop_map(|(per_epoch, a, b, boost, halving, epoch)| {
            let (beacon_bps, witness_bps) = if a + b <= 10_000 {
                (a, b)
            } else {
                (a / 2, b / 2)
            };
            let mut set = ParameterSet {
                emission: Emission {
                    per_epoch,
                    genesis_epoch: 1,
                    halving_epochs: halving * 10,
                },
                split: Split {
                    beacon_bps,
                    witness_bps,
                },
                ..ParameterSet::default()
            };
            set.hex_boosts.push(HexBoost {
                cell: res8(cell(1)),
                multiplier_e4: boost,
                start_epoch: 0,
                end_epoch: 20,
            });
            (set, epoch)
        })
}

fn run(events: &[Event], set: &ParameterSet, epoch: u64) -> Result<RewardManifest, ComputeError> {
    let mut inputs = EpochInputs::new();
    for e in events {
        let (hotspot, owner) = (key(e.hotspot), key(200 + e.hotspot % 5));
        if e.beacon {
            inputs.add_beacon(&beacon(
                e.hotspot,
                200 + e.hotspot % 5,
                cell(e.location),
                e.scale,
                e.units,
            ))?;
        } else {
            inputs.add_witness(&WitnessEvent {
                witness: hotspot,
                owner,
                location: cell(e.location),
                beaconer_scale_e4: e.scale,
                reward_units_e4: e.units,
            })?;
        }
    }
    manifest(
        &inputs,
        set,
        &EpochHeader {
            epoch,
            reports_digest: [0; 32],
        },
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    /// Any inputs, extreme ones included: either a manifest that conserves the emission, or a
    /// typed overflow refusal when a hotspot's shares really exceed 64 bits.
    #[test]
    fn conservation_on_any_inputs(events in events(extreme_u32().boxed()), (set, epoch) in set_strategy()) {
        match run(&events, &set, epoch) {
            Ok(m) => check_conservation(&m, &set, epoch),
            Err(ComputeError::SharesOverflow { .. }) => {
                let boost = u128::from(set.hex_boosts[0].multiplier_e4.max(NO_BOOST_E4));
                let mut per_hotspot: BTreeMap<(u8, bool), u128> = BTreeMap::new();
                for e in &events {
                    *per_hotspot.entry((e.hotspot, e.beacon)).or_default() +=
                        u128::from(e.scale) * u128::from(e.units) * boost;
                }
                prop_assert!(per_hotspot.values().any(|v| *v > u128::from(u64::MAX)));
            }
            Err(other) => prop_assert!(false, "unexpected error {other}"),
        }
    }

    /// Events added by slot, over hotspots given beforehand in any order (some of them without
    /// events), give exactly what adding them by key gives, refusals included.
    #[test]
    fn adding_by_slot_is_adding_by_key(
        events in events(extreme_u32().boxed()),
        (set, epoch) in set_strategy(),
        order in Just((0u8..30).collect::<Vec<u8>>()).prop_shuffle(),
    ) {
        let header = EpochHeader { epoch, reports_digest: [0; 32] };
        let mut by_key = EpochInputs::new();
        let mut by_slot =
            EpochInputs::with_hotspots(order.iter().map(|h| (key(*h), key(200 + h % 5))))
                .expect("distinct hotspots");
        for e in &events {
            let slot = order.iter().position(|h| *h == e.hotspot).expect("listed");
            let (hotspot, owner) = (key(e.hotspot), key(200 + e.hotspot % 5));
            if e.beacon {
                by_key.add_beacon(&BeaconEvent {
                    beaconer: hotspot,
                    owner,
                    location: cell(e.location),
                    hex_scale_e4: e.scale,
                    reward_units_e4: e.units,
                }).expect("one owner per hotspot");
                by_slot.add_beacon_at(slot, cell(e.location), e.scale, e.units).expect("slot");
            } else {
                by_key.add_witness(&witness(e.hotspot, 200 + e.hotspot % 5, cell(e.location), e.scale, e.units))
                    .expect("one owner per hotspot");
                by_slot.add_witness_at(slot, cell(e.location), e.scale, e.units).expect("slot");
            }
        }
        prop_assert_eq!(by_slot.reports(), events.len() as u64);
        let mut active: Vec<Key> = by_slot.hotspot_keys().copied().collect();
        let mut keyed: Vec<Key> = by_key.hotspot_keys().copied().collect();
        active.sort_unstable();
        keyed.sort_unstable();
        prop_assert_eq!(active, keyed);
        let bytes = |inputs: &EpochInputs| manifest(inputs, &set, &header).map(|m| m.encode_to_vec());
        prop_assert_eq!(bytes(&by_slot), bytes(&by_key));
    }

    /// Realistic magnitudes (scale <= 1.0, units <= 2.0, boosts <= 20x) never overflow.
    #[test]
    fn conservation_on_realistic_inputs(events in events((0u32..=20_000).boxed()), (set, epoch) in set_strategy()) {
        let mut set = set;
        set.hex_boosts[0].multiplier_e4 %= 200_001;
        let m = run(&events, &set, epoch).expect("realistic inputs compute");
        check_conservation(&m, &set, epoch);
    }
}
