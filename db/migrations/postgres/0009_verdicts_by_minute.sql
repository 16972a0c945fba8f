-- Verdict storage at Helium's scale (~4 M proofs of coverage and ~40 M witness verdicts a day).
-- Keep in step with the other backend.
--
-- Before, each witness verdict cost four B-tree inserts at random places (its id, its beacon's
-- id, its witness key, the evidence index) and each proof of coverage three, plus an upsert of
-- every hotspot it touched: most of the verifier's time was the database's. Now each verdict
-- table has one key, and nothing else:
--   (minute of receipt, hotspot key, report id)
-- Rows of one minute are written together, so inserts stay in a small, hot part of the tree;
-- every range the verifier and the rewards job read is a range of minutes; a hotspot's
-- verdicts are found with one probe per minute (`oracle explain`); a report's verdict with one
-- exact lookup (minute and key come from the report row).
--
-- hotspot_state becomes a checkpoint: the verifier writes it now and then, and a restart folds
-- in every verdict received at or after verifier_progress.state_replay_from_ms (the state is a
-- maximum of receive times, so folding in a verdict twice changes nothing; pocs.state_flags
-- says which of its beaconer's timestamps a proof of coverage set). The state migrated here is
-- the exact state of the stored verdicts, so nothing needs replaying yet.

CREATE TABLE pocs_by_minute (
    minute BIGINT NOT NULL,
    beaconer_key BYTEA NOT NULL,
    beacon_id BYTEA NOT NULL,
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
    passed_regular BIGINT NOT NULL,
    -- bit 0: set the beaconer's last_beacon_ms, bit 1: last_reciprocal_beacon_ms, bit 2:
    -- last_active_ms (oracle/src/verifier/state.rs, BeaconEffects).
    state_flags BIGINT NOT NULL,
    PRIMARY KEY (minute, beaconer_key, beacon_id)
);
INSERT INTO pocs_by_minute
SELECT received_ms / 60000, beaconer_key, beacon_id, epoch, received_ms, valid, reason, measured, threshold,
       detail, location, hex_scale_e4, reward_units_e4, witness_reports, valid_witnesses, selected_witnesses,
       passed_regular, 0
FROM pocs;
DROP TABLE pocs;
ALTER TABLE pocs_by_minute RENAME TO pocs;

CREATE TABLE witness_verdicts_by_minute (
    minute BIGINT NOT NULL,
    witness_key BYTEA NOT NULL,
    witness_id BYTEA NOT NULL,
    -- NULL for a witness that belongs to no proof of coverage (stale or too late).
    beacon_id BYTEA,
    beaconer_key BYTEA,
    -- The epoch of the proof of coverage (its beacon's), which pays it.
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
    passed_regular BIGINT NOT NULL,
    log_distance_e3 BIGINT,
    signal_ddbm BIGINT,
    PRIMARY KEY (minute, witness_key, witness_id)
);
INSERT INTO witness_verdicts_by_minute
SELECT received_ms / 60000, witness_key, witness_id, beacon_id, beaconer_key, epoch, received_ms, valid, reason,
       side, measured, threshold, detail, selected, hex_scale_e4, reward_units_e4, passed_regular,
       log_distance_e3, signal_ddbm
FROM witness_verdicts;
DROP TABLE witness_verdicts;
ALTER TABLE witness_verdicts_by_minute RENAME TO witness_verdicts;

-- One row. verified_before_ms: every report received before it has a verdict (0: not known yet,
-- the verifier finds it at its next start). state_replay_from_ms: see above.
CREATE TABLE verifier_progress (
    id BIGINT PRIMARY KEY,
    verified_before_ms BIGINT NOT NULL,
    state_replay_from_ms BIGINT NOT NULL
);
INSERT INTO verifier_progress (id, verified_before_ms, state_replay_from_ms) VALUES (1, 0, 9223372036854775807);
ALTER INDEX pocs_by_minute_pkey RENAME TO pocs_pkey;
ALTER INDEX witness_verdicts_by_minute_pkey RENAME TO witness_verdicts_pkey;
