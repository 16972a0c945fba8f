-- The reports an epoch pays, narrow. Keep in step with the other backend.
--
-- The rewards job reads every valid beacon and every valid, selected witness of a proof of
-- coverage in an epoch (rewards/src/epoch.rs). From the verdict tables that meant reading their
-- whole rows (19 columns, ~280 bytes with the explanation of each verdict) and skipping a
-- quarter of them, for the seven values a report's reward depends on (docs/benchmarks.md,
-- "What limits" point 4). These tables hold just those values, keyed like the verdict tables.
--
-- The database keeps them equal to their definition: triggers on the verdict tables add,
-- change and remove rows with the verdicts (an insert that conflicts adds nothing), so no
-- writer can store a verdict without its paid row, and a corrected verdict corrects it.

CREATE TABLE paid_beacons (
    minute BIGINT NOT NULL,
    received_ms BIGINT NOT NULL,
    location BIGINT,
    hex_scale_e4 BIGINT NOT NULL,
    reward_units_e4 BIGINT NOT NULL,
    beaconer_key BYTEA NOT NULL,
    beacon_id BYTEA NOT NULL,
    PRIMARY KEY (minute, beaconer_key, beacon_id)
) WITHOUT ROWID;

CREATE TABLE paid_witnesses (
    minute BIGINT NOT NULL,
    -- The epoch of the witness's proof of coverage, which pays it.
    epoch BIGINT NOT NULL,
    hex_scale_e4 BIGINT NOT NULL,
    reward_units_e4 BIGINT NOT NULL,
    witness_key BYTEA NOT NULL,
    witness_id BYTEA NOT NULL,
    beacon_id BYTEA NOT NULL,
    PRIMARY KEY (minute, witness_key, witness_id)
) WITHOUT ROWID;

INSERT INTO paid_beacons (minute, received_ms, location, hex_scale_e4, reward_units_e4, beaconer_key, beacon_id)
SELECT minute, received_ms, location, hex_scale_e4, reward_units_e4, beaconer_key, beacon_id
FROM pocs WHERE valid = 1;

INSERT INTO paid_witnesses (minute, epoch, hex_scale_e4, reward_units_e4, witness_key, witness_id, beacon_id)
SELECT minute, epoch, hex_scale_e4, reward_units_e4, witness_key, witness_id, beacon_id
FROM witness_verdicts WHERE valid = 1 AND selected = 1 AND beacon_id IS NOT NULL;

CREATE TRIGGER pocs_paid_insert AFTER INSERT ON pocs WHEN NEW.valid = 1
BEGIN
    INSERT INTO paid_beacons (minute, received_ms, location, hex_scale_e4, reward_units_e4, beaconer_key, beacon_id)
    VALUES (NEW.minute, NEW.received_ms, NEW.location, NEW.hex_scale_e4, NEW.reward_units_e4, NEW.beaconer_key, NEW.beacon_id);
END;

CREATE TRIGGER pocs_paid_update AFTER UPDATE ON pocs
BEGIN
    DELETE FROM paid_beacons
    WHERE minute = OLD.minute AND beaconer_key = OLD.beaconer_key AND beacon_id = OLD.beacon_id;
    INSERT INTO paid_beacons (minute, received_ms, location, hex_scale_e4, reward_units_e4, beaconer_key, beacon_id)
    SELECT NEW.minute, NEW.received_ms, NEW.location, NEW.hex_scale_e4, NEW.reward_units_e4, NEW.beaconer_key, NEW.beacon_id
    WHERE NEW.valid = 1;
END;

CREATE TRIGGER pocs_paid_delete AFTER DELETE ON pocs
BEGIN
    DELETE FROM paid_beacons
    WHERE minute = OLD.minute AND beaconer_key = OLD.beaconer_key AND beacon_id = OLD.beacon_id;
END;

CREATE TRIGGER witness_verdicts_paid_insert AFTER INSERT ON witness_verdicts
WHEN NEW.valid = 1 AND NEW.selected = 1 AND NEW.beacon_id IS NOT NULL
BEGIN
    INSERT INTO paid_witnesses (minute, epoch, hex_scale_e4, reward_units_e4, witness_key, witness_id, beacon_id)
    VALUES (NEW.minute, NEW.epoch, NEW.hex_scale_e4, NEW.reward_units_e4, NEW.witness_key, NEW.witness_id, NEW.beacon_id);
END;

CREATE TRIGGER witness_verdicts_paid_update AFTER UPDATE ON witness_verdicts
BEGIN
    DELETE FROM paid_witnesses
    WHERE minute = OLD.minute AND witness_key = OLD.witness_key AND witness_id = OLD.witness_id;
    INSERT INTO paid_witnesses (minute, epoch, hex_scale_e4, reward_units_e4, witness_key, witness_id, beacon_id)
    SELECT NEW.minute, NEW.epoch, NEW.hex_scale_e4, NEW.reward_units_e4, NEW.witness_key, NEW.witness_id, NEW.beacon_id
    WHERE NEW.valid = 1 AND NEW.selected = 1 AND NEW.beacon_id IS NOT NULL;
END;

CREATE TRIGGER witness_verdicts_paid_delete AFTER DELETE ON witness_verdicts
BEGIN
    DELETE FROM paid_witnesses
    WHERE minute = OLD.minute AND witness_key = OLD.witness_key AND witness_id = OLD.witness_id;
END;
