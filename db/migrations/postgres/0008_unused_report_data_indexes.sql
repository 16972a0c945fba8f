-- No query selects reports by their 51-byte payload: the verifier pairs beacons and witnesses
-- by payload in memory (its pending proofs of coverage), and reads stored reports back by
-- received time (beacon_reports_received, witness_reports_received) or by id. Each of these
-- indexes cost a random B-tree insert per report on the ingest path (payloads are random
-- bytes). Keep in step with the other backend.
DROP INDEX beacon_reports_data;
DROP INDEX witness_reports_data;
