//! A small network end to end: real agents, the radio medium and a real oracle over QUIC on
//! loopback, with real signatures and a real database (SQLite and PostgreSQL). Asserts what the
//! oracle stored and verified.

use simulator::report::SimReport;
use simulator::run::{SimOptions, simulate};
use simulator::scenario::Scenario;

// Four hotspots in Oakland, CA: three 1.5-3 km apart, and one 120 m from "a" (too close to
// count as its witness). 2-minute beacon interval, 6 simulated minutes at 60x.
const SCENARIO: &str = r#"
seed = 7
duration = "6m"
time_scale = 60.0
region = "US915"

[params]
beacon_interval = "2m"

[[hotspots]]
name = "a"
lat = 37.8044
lng = -122.2712
owner = "alice"

[[hotspots]]
name = "b"
lat = 37.8180
lng = -122.2712
owner = "bob"

[[hotspots]]
name = "c"
lat = 37.8044
lng = -122.2450
owner = "carol"

[[hotspots]]
name = "a-neighbour"
lat = 37.8055
lng = -122.2712
owner = "dave"
"#;

async fn run(database_url: String) -> SimReport {
    let scenario = Scenario::from_toml_str(SCENARIO, std::path::Path::new(".")).expect("scenario");
    let options = SimOptions {
        database_url: Some(database_url),
        ..SimOptions::default()
    };
    simulate(&scenario, &options)
        .await
        .expect("simulation runs")
}

fn check(report: &SimReport) {
    let by_name = |name: &str| {
        report
            .hotspots
            .iter()
            .find(|h| h.name == name)
            .expect("hotspot in report")
    };
    for h in &report.hotspots {
        // Only bootstrapping may refuse a beacon: HIP 106 (a hotspot that has not witnessed
        // anyone yet) and witness-graph trust (no evidence before the first refresh).
        let reasons: Vec<&String> = h.beacons.invalid.keys().collect();
        assert!(
            reasons
                .iter()
                .all(|r| *r == "gateway_no_valid_witnesses" || *r == "untrusted"),
            "{}: {reasons:?}",
            h.name
        );
        assert!(
            h.agent.beacons_acked >= h.beacons.total,
            "every stored beacon was acknowledged to its agent"
        );
    }
    // a, b and c are 1.5-2.3 km apart: once reciprocity is established they beacon and
    // witness each other validly.
    for name in ["a", "b", "c"] {
        let h = by_name(name);
        assert!(h.beacons.valid >= 1, "{name}: {:?}", h.beacons);
        assert!(h.witnesses.valid >= 1, "{name}: {:?}", h.witnesses);
        assert!(h.reward_units > 0.0);
    }
    // a and a-neighbour are 120 m apart: their mutual witnesses are below the minimum distance.
    let neighbour = by_name("a-neighbour");
    assert!(
        neighbour
            .witnesses
            .invalid
            .get("below_min_distance")
            .copied()
            .unwrap_or(0)
            >= 1,
        "{:?}",
        neighbour.witnesses
    );
    // Every witness report the agents had acknowledged got a verdict.
    let acked: u64 = report
        .hotspots
        .iter()
        .map(|h| h.agent.witnesses_acked)
        .sum();
    assert_eq!(
        report.totals.witnesses.total, acked,
        "one verdict per acknowledged witness report"
    );
    assert!(report.medium.transmissions >= report.totals.beacons.total);
    // Active hotspots have a transmit scale; b and c are alone in their res-8 hexes.
    assert_eq!(by_name("b").transmit_scale, Some(1.0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn network_on_sqlite() {
    let db = db::test_support::sqlite().await.expect("sqlite");
    check(&run(db.url.clone()).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn network_on_postgres() {
    let db = db::test_support::postgres().await.expect("postgres");
    check(&run(db.url.clone()).await);
}
