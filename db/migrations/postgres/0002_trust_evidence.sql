-- Witness-graph trust evidence: asserted distance (log10 m x 1000) and RSSI (dBm x 10) of every
-- witness report that passed the regular checks.
ALTER TABLE witness_verdicts ADD COLUMN log_distance_e3 BIGINT;
ALTER TABLE witness_verdicts ADD COLUMN signal_ddbm BIGINT;
CREATE INDEX witness_verdicts_evidence ON witness_verdicts (passed_regular, received_ms);
