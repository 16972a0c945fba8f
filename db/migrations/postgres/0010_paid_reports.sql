-- The reports an epoch pays, narrow. Keep in step with the other backend.
--
-- The rewards job reads every valid beacon and every valid, selected witness of a proof of
-- coverage in an epoch (rewards/src/epoch.rs). From the verdict tables that meant reading their
-- whole rows (19 columns, ~280 bytes with the explanation of each verdict) and filtering out a
-- quarter of them: at Helium's peak, 12 GB of heap for 28 M paid reports, more than the
-- buffer cache, for the seven values a report's reward depends on (docs/benchmarks.md, "What
-- limits" point 4). These tables hold just those values, keyed like the verdict tables.
--
-- The database keeps them equal to their definition: triggers on the verdict tables add,
-- change and remove rows with the verdicts (an insert that conflicts adds nothing), so no
-- writer can store a verdict without its paid row, and a corrected verdict corrects it.
-- Statement-level, with transition tables: one INSERT ... SELECT per statement or COPY.

CREATE TABLE paid_beacons (
    minute BIGINT NOT NULL,
    received_ms BIGINT NOT NULL,
    location BIGINT,
    hex_scale_e4 BIGINT NOT NULL,
    reward_units_e4 BIGINT NOT NULL,
    beaconer_key BYTEA NOT NULL,
    beacon_id BYTEA NOT NULL,
    PRIMARY KEY (minute, beaconer_key, beacon_id)
);

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
);

INSERT INTO paid_beacons (minute, received_ms, location, hex_scale_e4, reward_units_e4, beaconer_key, beacon_id)
SELECT minute, received_ms, location, hex_scale_e4, reward_units_e4, beaconer_key, beacon_id
FROM pocs WHERE valid = 1;

INSERT INTO paid_witnesses (minute, epoch, hex_scale_e4, reward_units_e4, witness_key, witness_id, beacon_id)
SELECT minute, epoch, hex_scale_e4, reward_units_e4, witness_key, witness_id, beacon_id
FROM witness_verdicts WHERE valid = 1 AND selected = 1 AND beacon_id IS NOT NULL;

CREATE FUNCTION paid_beacons_add() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO paid_beacons (minute, received_ms, location, hex_scale_e4, reward_units_e4, beaconer_key, beacon_id)
    SELECT minute, received_ms, location, hex_scale_e4, reward_units_e4, beaconer_key, beacon_id
    FROM new_rows WHERE valid = 1;
    RETURN NULL;
END $$;

CREATE FUNCTION paid_beacons_remove() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM paid_beacons p USING old_rows o
    WHERE p.minute = o.minute AND p.beaconer_key = o.beaconer_key AND p.beacon_id = o.beacon_id;
    RETURN NULL;
END $$;

CREATE FUNCTION paid_beacons_replace() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM paid_beacons p USING old_rows o
    WHERE p.minute = o.minute AND p.beaconer_key = o.beaconer_key AND p.beacon_id = o.beacon_id;
    INSERT INTO paid_beacons (minute, received_ms, location, hex_scale_e4, reward_units_e4, beaconer_key, beacon_id)
    SELECT minute, received_ms, location, hex_scale_e4, reward_units_e4, beaconer_key, beacon_id
    FROM new_rows WHERE valid = 1;
    RETURN NULL;
END $$;

CREATE FUNCTION paid_witnesses_add() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO paid_witnesses (minute, epoch, hex_scale_e4, reward_units_e4, witness_key, witness_id, beacon_id)
    SELECT minute, epoch, hex_scale_e4, reward_units_e4, witness_key, witness_id, beacon_id
    FROM new_rows WHERE valid = 1 AND selected = 1 AND beacon_id IS NOT NULL;
    RETURN NULL;
END $$;

CREATE FUNCTION paid_witnesses_remove() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM paid_witnesses p USING old_rows o
    WHERE p.minute = o.minute AND p.witness_key = o.witness_key AND p.witness_id = o.witness_id;
    RETURN NULL;
END $$;

CREATE FUNCTION paid_witnesses_replace() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM paid_witnesses p USING old_rows o
    WHERE p.minute = o.minute AND p.witness_key = o.witness_key AND p.witness_id = o.witness_id;
    INSERT INTO paid_witnesses (minute, epoch, hex_scale_e4, reward_units_e4, witness_key, witness_id, beacon_id)
    SELECT minute, epoch, hex_scale_e4, reward_units_e4, witness_key, witness_id, beacon_id
    FROM new_rows WHERE valid = 1 AND selected = 1 AND beacon_id IS NOT NULL;
    RETURN NULL;
END $$;

CREATE TRIGGER pocs_paid_insert AFTER INSERT ON pocs
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION paid_beacons_add();
CREATE TRIGGER pocs_paid_update AFTER UPDATE ON pocs
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION paid_beacons_replace();
CREATE TRIGGER pocs_paid_delete AFTER DELETE ON pocs
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION paid_beacons_remove();

CREATE TRIGGER witness_verdicts_paid_insert AFTER INSERT ON witness_verdicts
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION paid_witnesses_add();
CREATE TRIGGER witness_verdicts_paid_update AFTER UPDATE ON witness_verdicts
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION paid_witnesses_replace();
CREATE TRIGGER witness_verdicts_paid_delete AFTER DELETE ON witness_verdicts
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION paid_witnesses_remove();
