-- Spine: hotspots, entropy, reports and verdicts. Keep in step with the postgres migration.

-- Onboarded hotspots: the location assertion in force.
CREATE TABLE hotspots (
    hotspot_key BLOB PRIMARY KEY,
    owner_key BLOB NOT NULL,
    location BIGINT NOT NULL,
    gain_ddbi BIGINT NOT NULL,
    elevation_m BIGINT NOT NULL,
    asserted_ms BIGINT NOT NULL,
    full_hotspot BIGINT NOT NULL DEFAULT 1
);
CREATE INDEX hotspots_owner ON hotspots (owner_key);

-- Every accepted location assertion (append-only, signed bytes).
CREATE TABLE assertions (
    id BLOB PRIMARY KEY,
    hotspot_key BLOB NOT NULL,
    received_ms BIGINT NOT NULL,
    message BLOB NOT NULL
);
CREATE INDEX assertions_hotspot ON assertions (hotspot_key, received_ms);

-- Entropy the oracle published (signed bytes).
CREATE TABLE entropy (
    data BLOB PRIMARY KEY,
    timestamp_ms BIGINT NOT NULL,
    version BIGINT NOT NULL,
    message BLOB NOT NULL
);
CREATE INDEX entropy_timestamp ON entropy (timestamp_ms);

-- Accepted beacon reports (signed bytes), keyed by message id.
CREATE TABLE beacon_reports (
    id BLOB PRIMARY KEY,
    hotspot_key BLOB NOT NULL,
    data BLOB NOT NULL,
    received_ms BIGINT NOT NULL,
    message BLOB NOT NULL
);
CREATE INDEX beacon_reports_data ON beacon_reports (data);
CREATE INDEX beacon_reports_received ON beacon_reports (received_ms);

-- Accepted witness reports (signed bytes), keyed by message id.
CREATE TABLE witness_reports (
    id BLOB PRIMARY KEY,
    hotspot_key BLOB NOT NULL,
    data BLOB NOT NULL,
    received_ms BIGINT NOT NULL,
    message BLOB NOT NULL
);
CREATE INDEX witness_reports_data ON witness_reports (data);
CREATE INDEX witness_reports_received ON witness_reports (received_ms);

-- One verdict per beacon report (a proof of coverage).
CREATE TABLE pocs (
    beacon_id BLOB PRIMARY KEY,
    beaconer_key BLOB NOT NULL,
    epoch BIGINT NOT NULL,
    received_ms BIGINT NOT NULL,
    valid BIGINT NOT NULL,
    reason TEXT,
    measured DOUBLE PRECISION,
    threshold DOUBLE PRECISION,
    detail TEXT,
    location BIGINT,
    hex_scale_e4 BIGINT NOT NULL,
    reward_units_e4 BIGINT NOT NULL,
    witness_reports BIGINT NOT NULL,
    valid_witnesses BIGINT NOT NULL,
    selected_witnesses BIGINT NOT NULL,
    passed_regular BIGINT NOT NULL
);
CREATE INDEX pocs_beaconer ON pocs (beaconer_key, received_ms);
CREATE INDEX pocs_epoch ON pocs (epoch);

-- One verdict per witness report.
CREATE TABLE witness_verdicts (
    witness_id BLOB PRIMARY KEY,
    beacon_id BLOB,
    witness_key BLOB NOT NULL,
    beaconer_key BLOB,
    epoch BIGINT NOT NULL,
    received_ms BIGINT NOT NULL,
    valid BIGINT NOT NULL,
    reason TEXT,
    side TEXT,
    measured DOUBLE PRECISION,
    threshold DOUBLE PRECISION,
    detail TEXT,
    selected BIGINT NOT NULL,
    hex_scale_e4 BIGINT NOT NULL,
    reward_units_e4 BIGINT NOT NULL,
    passed_regular BIGINT NOT NULL
);
CREATE INDEX witness_verdicts_witness ON witness_verdicts (witness_key, received_ms);
CREATE INDEX witness_verdicts_beacon ON witness_verdicts (beacon_id);
CREATE INDEX witness_verdicts_epoch ON witness_verdicts (epoch);

-- What the verifier remembers per hotspot (written with each verdict).
CREATE TABLE hotspot_state (
    hotspot_key BLOB PRIMARY KEY,
    last_beacon_ms BIGINT,
    last_witness_ms BIGINT,
    last_reciprocal_beacon_ms BIGINT,
    last_active_ms BIGINT
);

-- Denylisted keys (32 bytes) and edges (64 bytes: the two keys, smaller first).
CREATE TABLE denylist (
    target BLOB PRIMARY KEY,
    kind TEXT NOT NULL,
    reason TEXT NOT NULL,
    from_ms BIGINT NOT NULL,
    expires_ms BIGINT NOT NULL,
    list_version BIGINT NOT NULL
);
