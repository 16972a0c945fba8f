use super::*;
use schemas::Keypair;

fn key(seed: u8) -> PublicKey {
    Keypair::from_seed([seed; 32]).public()
}

fn minimal() -> String {
    format!(
        "[oracle]\naddress = \"127.0.0.1:9080\"\nkey = \"{}\"\n",
        key(1)
    )
}

fn parse(text: &str) -> Result<Settings, SettingsError> {
    Settings::parse(text, Path::new("/etc/agent"), Vec::new())
}

fn parse_error(text: &str) -> String {
    parse(text).expect_err("must be refused").to_string()
}

#[test]
fn defaults_match_the_template() {
    let values = InitialValues {
        oracle_address: "127.0.0.1:9080".into(),
        oracle_key: key(1),
        region: Region::Us915,
        medium: None,
    };
    let from_template = parse(&initial_settings(&values)).expect("template parses");
    let from_defaults = parse(&minimal()).expect("minimal parses");
    assert_eq!(from_template, from_defaults);
    assert_eq!(
        from_defaults.key_file,
        PathBuf::from("/etc/agent/hotspot.key")
    );
    assert_eq!(from_defaults.region, Region::Us915);
    assert_eq!(from_defaults.antenna_gain_ddbi(), 12);
    assert_eq!(
        from_defaults.beacon,
        BeaconSettings {
            interval: Duration::from_secs(21_600),
            enabled: true
        }
    );
    assert_eq!(
        from_defaults.oracle.request_timeout,
        Duration::from_secs(10)
    );
    assert_eq!(from_defaults.radio.kind, RadioKind::Simulated);
    assert_eq!(
        from_defaults.radio.listen,
        "127.0.0.1:1680".parse().expect("addr")
    );
    assert_eq!(from_defaults.data_dir, PathBuf::from("/etc/agent/data"));
    assert_eq!(
        from_defaults.queue.limits(),
        crate::outbox::QueueLimits::default()
    );
    assert_eq!(from_defaults.status.interval, Duration::from_secs(5));
}

#[test]
fn the_bare_template_needs_the_oracle() {
    assert!(parse_error(TEMPLATE).contains("oracle"));
}

#[test]
fn init_values_and_durations_are_read() {
    let values = InitialValues {
        oracle_address: "localhost:9080".into(),
        oracle_key: key(2),
        region: Region::Eu868,
        medium: Some(("127.0.0.1:9300".into(), key(3))),
    };
    let text = initial_settings(&values).replace("interval = \"6h\"", "interval = \"1h 30m\"");
    let settings = parse(&text).expect("parses");
    assert_eq!(settings.region, Region::Eu868);
    assert_eq!(settings.oracle.key, key(2));
    assert_eq!(settings.beacon.interval, Duration::from_secs(5_400));
    let radio = settings.sim_radio_config().expect("radio");
    assert_eq!(radio.medium_key, key(3));
    assert_eq!(radio.address.port(), 9300);
    assert_eq!(
        settings.agent_config().expect("config").oracle_addr.port(),
        9080
    );
}

#[test]
fn unknown_keys_and_bad_values_are_refused() {
    assert!(parse_error(&format!("colour = 1\n{}", minimal())).contains("unknown field `colour`"));
    assert!(
        parse_error(&format!("{}\n[beacon]\nintervall = \"1h\"\n", minimal()))
            .contains("unknown field `intervall`")
    );
    assert!(parse_error(&format!("region = \"XX1\"\n{}", minimal())).contains("unknown region"));
    assert!(
        parse_error(&format!("{}\n[beacon]\ninterval = \"soon\"\n", minimal()))
            .contains("interval")
    );
    assert!(
        parse_error(&format!("{}\n[beacon]\ninterval = \"0s\"\n", minimal()))
            .contains("beacon.interval")
    );
    assert!(
        parse_error(&format!("antenna_gain_dbi = 99.0\n{}", minimal()))
            .contains("antenna_gain_dbi")
    );
    assert!(parse_error(&format!("{}\n[radio]\nkind = \"lorawan\"\n", minimal())).contains("kind"));
    let no_port = minimal().replace("127.0.0.1:9080", "127.0.0.1");
    assert!(parse_error(&no_port).contains("oracle.address"));
    let bad_key = minimal().replace(&key(1).to_string(), "not-base58!");
    assert!(parse_error(&bad_key).contains("base58"));
}

#[test]
fn the_simulated_radio_needs_its_medium() {
    let error = parse(&minimal())
        .expect("parses")
        .sim_radio_config()
        .expect_err("no medium");
    assert!(
        error.to_string().contains("radio.medium_address"),
        "{error}"
    );
}

#[test]
fn environment_overrides_top_level_keys() {
    let env = |pairs: &[(&str, &str)]| {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect::<Vec<_>>()
    };
    let vars = env(&[
        ("HOTSPOT_AGENT_REGION", "EU868"),
        ("HOTSPOT_AGENT_ANTENNA_GAIN_DBI", "5.5"),
        ("PATH", "/bin"),
    ]);
    let settings = Settings::parse(&minimal(), Path::new("/d"), vars).expect("parses");
    assert_eq!(
        (settings.region, settings.antenna_gain_ddbi()),
        (Region::Eu868, 55)
    );
    let vars = env(&[
        ("HOTSPOT_AGENT_ORACLE_ADDRESS", "oracle.example.net:9080"),
        ("HOTSPOT_AGENT_RADIO_KIND", "semtech"),
        ("HOTSPOT_AGENT_RADIO_LISTEN", "0.0.0.0:1700"),
        ("HOTSPOT_AGENT_QUEUE_MAX_AGE", "72h"),
        ("HOTSPOT_AGENT_QUEUE_MAX_MIB", "4"),
        ("HOTSPOT_AGENT_BEACON_ENABLED", "false"),
    ]);
    let settings = Settings::parse(&minimal(), Path::new("/d"), vars).expect("parses");
    assert_eq!(settings.oracle.address, "oracle.example.net:9080");
    assert_eq!(settings.radio.kind, RadioKind::Semtech);
    assert_eq!(settings.radio.listen, "0.0.0.0:1700".parse().expect("addr"));
    assert_eq!(
        settings.queue.limits().max_age,
        Duration::from_secs(72 * 3600)
    );
    assert_eq!(settings.queue.limits().max_bytes, 4 << 20);
    assert!(!settings.beacon.enabled);
    let bad_table_key = Settings::parse(
        &minimal(),
        Path::new("/d"),
        env(&[("HOTSPOT_AGENT_QUEUE_MAX_SIZE", "1")]),
    );
    assert!(matches!(bad_table_key, Err(SettingsError::Env { .. })));
    let vars = env(&[("HOTSPOT_AGENT_KEY_FILE", "/abs/key.json")]);
    let settings = Settings::parse(&minimal(), Path::new("/d"), vars).expect("parses");
    assert_eq!(settings.key_file, PathBuf::from("/abs/key.json"));
    let bad = Settings::parse(
        &minimal(),
        Path::new("/d"),
        env(&[("HOTSPOT_AGENT_ANTENNA_GAIN_DBI", "high")]),
    );
    assert!(matches!(bad, Err(SettingsError::Env { .. })));
    let unknown = Settings::parse(
        &minimal(),
        Path::new("/d"),
        env(&[("HOTSPOT_AGENT_ORACLE", "x")]),
    );
    assert!(matches!(unknown, Err(SettingsError::Env { .. })));
}

#[test]
fn load_reports_the_file_and_resolves_relative_paths() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("settings.toml");
    std::fs::write(&path, format!("key_file = \"keys/h.key\"\n{}", minimal())).expect("write");
    let settings = Settings::load_with_env(&path, Vec::new()).expect("load");
    assert_eq!(settings.key_file, dir.path().join("keys/h.key"));
    std::fs::write(&path, "oracle = 3\n").expect("write");
    let error = Settings::load_with_env(&path, Vec::new())
        .expect_err("bad")
        .to_string();
    assert!(error.contains("settings.toml"), "{error}");
    let missing = Settings::load_with_env(&dir.path().join("none.toml"), Vec::new());
    assert!(matches!(missing, Err(SettingsError::Read { .. })));
}

#[test]
fn assert_updates_the_gain_in_place() {
    let text = format!("# my gain\nantenna_gain_dbi = 1.2\n{}", minimal());
    let updated = with_antenna_gain(&text, 5.8);
    assert!(
        updated.starts_with("# my gain\nantenna_gain_dbi = 5.8\n"),
        "{updated}"
    );
    assert_eq!(parse(&updated).expect("parses").antenna_gain_ddbi(), 58);
    let added = with_antenna_gain(&minimal(), 3.0);
    assert_eq!(parse(&added).expect("parses").antenna_gain_ddbi(), 30);
}
