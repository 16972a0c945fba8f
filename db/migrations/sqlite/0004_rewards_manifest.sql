-- Rewards: the epoch loader selects proofs of coverage by received time (the epoch's range) and
-- joins their witnesses by beacon id (indexed since 0001). Keep in step with the other backend.
CREATE INDEX pocs_received ON pocs (received_ms);
