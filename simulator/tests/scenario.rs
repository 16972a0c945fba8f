//! Scenario files: parsing, defaults, validation errors and hotspot CSV loading.

use std::path::PathBuf;
use std::time::Duration;

use simulator::radio_model::RadioParams;
use simulator::scenario::{Behaviour, ResolvedScenario, Scenario, ScenarioError};

fn hotspots_dir() -> PathBuf {
    manifest_dir().join("../../shared/data/hotspots")
}
const US_SAMPLE: &str = "us-sample-4719.csv";

const HEADER: &str = "seed = 1\nduration = \"1h\"\ntime_scale = 60\nregion = \"US915\"\n";
const ONE_HOTSPOT: &str = "[[hotspots]]\nname = \"a\"\nlat = 37.7\nlng = -122.4\n";

fn parse(toml: &str) -> Result<ResolvedScenario, ScenarioError> {
    Scenario::from_toml_str(toml, hotspots_dir())
}

fn error(toml: &str) -> String {
    parse(toml)
        .expect_err("scenario should be rejected")
        .to_string()
}

/// The `address` column of the US sample, in file order.
fn us_sample_addresses() -> Vec<(String, f64, f64)> {
    let mut reader = csv::Reader::from_path(hotspots_dir().join(US_SAMPLE)).expect("csv");
    reader
        .records()
        .map(|r| {
            let r = r.expect("record");
            (
                r[0].to_owned(),
                r[2].parse().expect("lat"),
                r[3].parse().expect("lng"),
            )
        })
        .collect()
}

#[test]
fn example_scenario_parses() {
    let path = manifest_dir().join("scenarios/example.toml");
    let s = Scenario::load(&path).expect("example.toml loads");
    assert_eq!(s.name.as_deref(), Some("golden-gate-park"));
    assert_eq!(
        (s.seed, s.region.as_str(), s.ruleset.as_str()),
        (20240601, "US915", "default")
    );
    assert_eq!(s.duration, Duration::from_secs(12 * 3600));
    assert_eq!(s.time_scale, 720.0);
    assert_eq!(s.radio, RadioParams::default());
    assert_eq!(s.params.beacon_interval, Some(Duration::from_secs(1800)));
    assert_eq!(s.params.max_witnesses_per_poc, Some(14));
    assert_eq!(s.hotspots.len(), 16);
    let chalet = &s.hotspots[5];
    assert_eq!(chalet.owner.as_deref(), Some("owner-ggp-beach-chalet"));
    assert_eq!(chalet.asserted_position(), (37.76955, -122.50663));
    for h in &s.hotspots[6..] {
        assert_eq!((h.asserted_lat, h.asserted_lng), (Some(h.lat), Some(h.lng)));
        assert_eq!(h.gain_dbi, 4.0);
        assert!((37.0..=38.2).contains(&h.lat) && (-123.0..=-121.5).contains(&h.lng));
    }
}

#[test]
fn minimal_scenario_fills_defaults() {
    let s = parse(&format!("{HEADER}{ONE_HOTSPOT}")).expect("minimal scenario");
    assert_eq!(s.ruleset, "default");
    assert_eq!(s.radio, RadioParams::default());
    let h = &s.hotspots[0];
    assert_eq!((h.gain_dbi, h.elevation_m), (3.0, 5.0));
    assert_eq!(h.owner.as_deref(), Some("owner-a"));
    assert_eq!((h.asserted_lat, h.asserted_lng), (Some(37.7), Some(-122.4)));
    assert_eq!(h.behaviour, Behaviour::Honest);
}

#[test]
fn settings_errors_are_reported() {
    let with = |line: &str| format!("{line}\n{ONE_HOTSPOT}");
    let cases = [
        (
            with("seed = 1\nduration = \"1h\"\ntime_scale = 0\nregion = \"US915\""),
            "time_scale 0 must be > 0",
        ),
        (
            with("seed = 1\nduration = \"0s\"\ntime_scale = 1\nregion = \"US915\""),
            "duration must be > 0",
        ),
        (
            with("seed = 1\nduration = \"1h\"\ntime_scale = 1\nregion = \"US916\""),
            "region \"US916\" is not one of",
        ),
        (
            with("seed = 1\nduration = \"soon\"\ntime_scale = 1\nregion = \"US915\""),
            "line 2",
        ),
        (
            with("seed = 1\ntime_scale = 1\nregion = \"US915\""),
            "missing field `duration`",
        ),
        (
            with(&format!("{HEADER}colour = \"red\"")),
            "unknown field `colour`",
        ),
        (
            with(&format!("{HEADER}[radio]\nshadowing = 3")),
            "unknown field `shadowing`",
        ),
        (
            with(&format!("{HEADER}[radio]\nshadowing_sigma_db = -1")),
            "radio.shadowing_sigma_db -1 must be >= 0",
        ),
        (
            with(&format!("{HEADER}[radio]\nmax_range_km = 0")),
            "radio.max_range_km 0 must be > 0",
        ),
        (
            with(&format!("{HEADER}[params]\nbeacon = \"1h\"")),
            "unknown field `beacon`",
        ),
        (
            with(&format!("{HEADER}[params]\nentropy_tick = \"0s\"")),
            "params.entropy_tick must be > 0",
        ),
        (HEADER.to_owned(), "the scenario has no hotspots"),
    ];
    for (toml, expected) in cases {
        let message = error(&toml);
        assert!(
            message.contains(expected),
            "{message:?} should contain {expected:?}"
        );
    }
}

#[test]
fn hotspot_errors_name_the_hotspot() {
    let hotspot = |body: &str| format!("{HEADER}{ONE_HOTSPOT}[[hotspots]]\nname = \"b\"\n{body}");
    let cases = [
        (
            hotspot("lat = 91\nlng = 0"),
            "hotspots[1] (\"b\"): lat 91 out of range",
        ),
        (
            hotspot("lat = 0\nlng = -180.5"),
            "hotspots[1] (\"b\"): lng -180.5 out of range",
        ),
        (
            hotspot("lat = 0\nlng = 0\nasserted_lat = 0\nasserted_lng = 200"),
            "hotspots[1] (\"b\"): asserted_lng 200 out of range",
        ),
        (
            hotspot("lat = 0\nlng = 0\nasserted_lat = 1"),
            "hotspots[1] (\"b\"): asserted_lat and asserted_lng must be given together",
        ),
        (
            hotspot("lat = 0\nlng = 0\nbehaviour = \"evil\""),
            "unknown variant `evil`",
        ),
        (
            hotspot("lat = 0\nlng = 0\nantenna = 3"),
            "unknown field `antenna`",
        ),
        (hotspot("lng = 0"), "missing field `lat`"),
        (
            format!("{HEADER}{ONE_HOTSPOT}{ONE_HOTSPOT}"),
            "duplicate hotspot name \"a\" at hotspots[0] (\"a\") and hotspots[1] (\"a\")",
        ),
    ];
    for (toml, expected) in cases {
        let message = error(&toml);
        assert!(
            message.contains(expected),
            "{message:?} should contain {expected:?}"
        );
    }
}

#[test]
fn hotspot_file_errors_name_file_and_line() {
    let dir = tempfile::tempdir().expect("tempdir");
    let write =
        |name: &str, text: &str| std::fs::write(dir.path().join(name), text).expect("write");
    write("bad-lat.csv", "address,lat,lng\nok,1.0,2.0\nbad,123,2.0\n");
    write("bad-number.csv", "address,lat,lng\nok,1.0,x\n");
    write("odd.csv", "who,where\na,b\n");
    write("dupe.csv", "address,lat,lng\na,1.0,2.0\n");
    let file = |body: &str| format!("{HEADER}{ONE_HOTSPOT}[[hotspot_files]]\n{body}");
    let cases = [
        (
            file("path = \"bad-lat.csv\""),
            "hotspot_files[0] (bad-lat.csv) line 3: lat 123 out of range",
        ),
        (
            file("path = \"bad-number.csv\""),
            "hotspot_files[0] (bad-number.csv) line 2: column lng",
        ),
        (
            file("path = \"odd.csv\""),
            "hotspot_files[0] (odd.csv): unrecognised header",
        ),
        (file("path = \"missing.csv\""), "missing.csv"),
        (
            file("path = \"dupe.csv\""),
            "duplicate hotspot name \"a\" at hotspots[0] (\"a\") and hotspot_files[0] (dupe.csv) line 2",
        ),
        (
            file("path = \"dupe.csv\"\nbbox = [10, 0, 0, 10]"),
            "hotspot_files[0] (dupe.csv): bbox [10.0, 0.0, 0.0, 10.0] must be",
        ),
        (
            file("path = \"dupe.csv\"\nlimt = 3"),
            "unknown field `limt`",
        ),
    ];
    for (toml, expected) in cases {
        let message = Scenario::from_toml_str(&toml, dir.path())
            .expect_err("scenario should be rejected")
            .to_string();
        assert!(
            message.contains(expected),
            "{message:?} should contain {expected:?}"
        );
    }
}

#[test]
fn hotspot_file_limit_loads_real_rows() {
    let s = parse(&format!(
        "{HEADER}[[hotspot_files]]\npath = \"{US_SAMPLE}\"\nlimit = 25\n"
    ))
    .expect("us sample loads");
    let expected = us_sample_addresses();
    assert_eq!(s.hotspots.len(), 25);
    for (h, (address, lat, lng)) in s.hotspots.iter().zip(&expected) {
        assert_eq!((&h.name, h.lat, h.lng), (address, *lat, *lng));
        assert_eq!(h.asserted_position(), (*lat, *lng));
        assert_eq!(h.owner, Some(format!("owner-{address}")));
        assert_eq!((h.gain_dbi, h.elevation_m), (3.0, 5.0));
    }
    let all = parse(&format!(
        "{HEADER}[[hotspot_files]]\npath = \"{US_SAMPLE}\"\n"
    ))
    .expect("all");
    assert_eq!(all.hotspots.len(), 4_719);
}

#[test]
fn bbox_filters_hotspot_file_rows() {
    let bbox = [37.0, -123.0, 38.2, -121.5];
    let toml = format!("{HEADER}[[hotspot_files]]\npath = \"{US_SAMPLE}\"\nbbox = {bbox:?}\n");
    let s = parse(&toml).expect("bbox scenario");
    let inside: Vec<String> = us_sample_addresses()
        .into_iter()
        .filter(|(_, lat, lng)| (37.0..=38.2).contains(lat) && (-123.0..=-121.5).contains(lng))
        .map(|(address, _, _)| address)
        .collect();
    let names: Vec<String> = s.hotspots.iter().map(|h| h.name.clone()).collect();
    assert_eq!(names, inside);
    assert_eq!(names.len(), 176);
    let limited = parse(&format!("{toml}limit = 4\n")).expect("bbox + limit");
    assert_eq!(limited.hotspots.len(), 4);
    assert_eq!(limited.hotspots[3].name, inside[3]);
}

#[test]
fn reward_scale_file_maps_gain_elevation_and_owner() {
    let toml = format!("{HEADER}[[hotspot_files]]\npath = \"with-reward-scale-55.csv\"\n");
    let s = parse(&toml).expect("reward-scale file loads");
    assert_eq!(s.hotspots.len(), 55);
    let first = &s.hotspots[0];
    assert_eq!(first.name, "curved-plum-chicken");
    assert_eq!(
        (first.lat, first.lng),
        (39.07209286405517, -84.25326740202314)
    );
    assert_eq!((first.gain_dbi, first.elevation_m), (2.6, 0.0));
    assert_eq!(
        first.owner.as_deref(),
        Some("143bCNiczAE8PbkLRuwsw8ivfQdL2GRWrtkWjh7uxYcBaFUpPxX")
    );
    let overridden = parse(&format!(
        "{toml}owner = \"carol\"\ngain_dbi = 9.0\nelevation_m = 30\n"
    ))
    .expect("overrides");
    let h = &overridden.hotspots[0];
    assert_eq!(
        (h.owner.as_deref(), h.gain_dbi, h.elevation_m),
        (Some("carol"), 9.0, 30.0)
    );
}

#[test]
fn scenario_round_trips_through_toml() {
    let path = manifest_dir().join("scenarios/example.toml");
    let text = std::fs::read_to_string(&path).expect("read example");
    let scenario: Scenario = toml::from_str(&text).expect("parse");
    let again: Scenario =
        toml::from_str(&toml::to_string(&scenario).expect("serialize")).expect("reparse");
    assert_eq!(again.duration, scenario.duration);
    assert_eq!(again.hotspots, scenario.hotspots);
    assert_eq!(again.hotspot_files, scenario.hotspot_files);
    assert_eq!(again.params, scenario.params);
}

#[test]
fn adversarial_behaviours_parse_with_their_keys() {
    let toml = format!(
        "{HEADER}{ONE_HOTSPOT}
[[hotspots]]
name = \"s\"
lat = 37.7
lng = -122.4
asserted_lat = 37.8
asserted_lng = -122.3
behaviour = \"spoof_location\"

[[hotspots]]
name = \"v\"
lat = 37.6
lng = -122.4
behaviour = \"virtual_witness\"
colluders = [\"a\"]

[[hotspots]]
name = \"r1\"
lat = 37.61
lng = -122.4
behaviour = \"collusion_ring\"
ring = \"x\"

[[hotspots]]
name = \"r2\"
lat = 37.62
lng = -122.4
behaviour = \"collusion_ring\"
ring = \"x\"
"
    );
    let s = parse(&toml).expect("valid adversaries");
    let behaviours: Vec<Behaviour> = s.hotspots.iter().map(|h| h.behaviour).collect();
    assert_eq!(
        behaviours,
        [
            Behaviour::Honest,
            Behaviour::SpoofLocation,
            Behaviour::VirtualWitness,
            Behaviour::CollusionRing,
            Behaviour::CollusionRing
        ]
    );
    assert_eq!(s.hotspots[2].colluders, ["a"]);
    assert_eq!(s.hotspots[3].ring.as_deref(), Some("x"));
    for b in Behaviour::ALL {
        let parsed: Behaviour = toml::from_str::<toml::Table>(&format!("b = \"{b}\""))
            .ok()
            .and_then(|t| t.get("b").cloned())
            .and_then(|v| v.try_into().ok())
            .expect("behaviour name round-trips");
        assert_eq!(parsed, b);
    }
}

#[test]
fn adversary_references_are_checked() {
    let hotspot = |name: &str, body: &str| {
        format!("[[hotspots]]\nname = \"{name}\"\nlat = 37.6\nlng = -122.4\n{body}\n")
    };
    let cases = [
        (
            hotspot("s", "behaviour = \"spoof_location\""),
            "hotspots[1] (\"s\"): spoof_location needs asserted_lat/asserted_lng in another place",
        ),
        (
            hotspot(
                "s",
                "asserted_lat = 37.60001\nasserted_lng = -122.4\nbehaviour = \"spoof_location\"",
            ),
            "another place than lat/lng (same res-12 cell)",
        ),
        (
            hotspot("v", "behaviour = \"virtual_witness\""),
            "hotspots[1] (\"v\"): behaviour \"virtual_witness\" needs colluders",
        ),
        (
            hotspot(
                "v",
                "behaviour = \"virtual_witness\"\ncolluders = [\"nobody\"]",
            ),
            "colluder \"nobody\" is not a hotspot of the scenario",
        ),
        (
            hotspot("v", "behaviour = \"virtual_witness\"\ncolluders = [\"v\"]"),
            "colluder \"v\" is the virtual witness itself",
        ),
        (
            hotspot(
                "v",
                "behaviour = \"virtual_witness\"\ncolluders = [\"a\", \"a\"]",
            ),
            "colluder \"a\" is listed twice",
        ),
        (
            hotspot("v", "behaviour = \"virtual_witness\"\ncolluders = [\"o\"]")
                + &hotspot("o", "behaviour = \"offline\""),
            "colluder \"o\" is offline and cannot relay beacons",
        ),
        (
            hotspot("h", "colluders = [\"a\"]"),
            "colluders is only allowed with behaviour \"virtual_witness\", not \"honest\"",
        ),
        (
            hotspot("h", "behaviour = \"silent\"\nring = \"x\""),
            "ring is only allowed with behaviour \"collusion_ring\", not \"silent\"",
        ),
        (
            hotspot("r", "behaviour = \"collusion_ring\""),
            "behaviour \"collusion_ring\" needs ring",
        ),
        (
            hotspot("r", "behaviour = \"collusion_ring\"\nring = \"solo\""),
            "collusion ring \"solo\" has only one member (r); a ring needs at least two",
        ),
    ];
    for (body, expected) in cases {
        let message = error(&format!("{HEADER}{ONE_HOTSPOT}{body}"));
        assert!(
            message.contains(expected),
            "{message:?} should contain {expected:?}"
        );
    }
}

#[test]
fn attack_scenarios_load_and_share_the_honest_neighbourhood() {
    let dir = manifest_dir().join("scenarios/attacks");
    let baseline = Scenario::load(dir.join("baseline.toml")).expect("baseline loads");
    assert!((15..=20).contains(&baseline.hotspots.len()));
    for entry in std::fs::read_dir(&dir).expect("attacks dir") {
        let path = entry.expect("entry").path();
        let s = Scenario::load(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        for honest in &baseline.hotspots {
            let same = s.hotspots.iter().find(|h| h.name == honest.name);
            assert_eq!(
                same.map(|h| (h.lat, h.lng, h.asserted_position())),
                Some((honest.lat, honest.lng, honest.asserted_position())),
                "{}: {}",
                path.display(),
                honest.name
            );
        }
        assert_eq!(s.seed, baseline.seed, "{}", path.display());
    }
}

/// This package's directory, read when the test runs (`cargo test` sets it): a test binary
/// reused from a target directory shared by clones at other paths would otherwise carry the
/// path it was built at.
fn manifest_dir() -> std::path::PathBuf {
    std::env::var_os("CARGO_MANIFEST_DIR")
        .map_or_else(|| env!("CARGO_MANIFEST_DIR").into(), Into::into)
}
