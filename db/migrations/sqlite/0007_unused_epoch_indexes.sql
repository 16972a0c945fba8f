-- No query selects verdicts by epoch alone: `oracle explain` goes through the hotspot's key
-- (pocs_beaconer, witness_verdicts_witness) and rewards through received time (pocs_received)
-- and beacon id (witness_verdicts_beacon). Each index costs a B-tree insert per verdict, about
-- 44 M a day at Helium's peak. Keep in step with the other backend.
DROP INDEX pocs_epoch;
DROP INDEX witness_verdicts_epoch;
