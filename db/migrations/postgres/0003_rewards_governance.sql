-- Rewards and governance: parameter sets in force, reward manifests and their approvals.
-- Keep in step with the other backend's migration.

-- Every applied governance parameter set (append-only audit history). Version 1 is genesis;
-- the set in force for epoch E is the highest version with effective_epoch <= E. Without rows,
-- the built-in genesis set (schemas::parameters::ParameterSet::default) is in force.
CREATE TABLE parameter_sets (
    version BIGINT PRIMARY KEY,
    effective_epoch BIGINT NOT NULL,
    -- SHA-256 of the canonical encoding (ParameterSet::hash) and the TOML text.
    hash BYTEA NOT NULL,
    parameters TEXT NOT NULL,
    applied_ms BIGINT NOT NULL
);
CREATE INDEX parameter_sets_effective ON parameter_sets (effective_epoch, version);

-- The governance signatures each applied set carried (its audit trail).
CREATE TABLE parameter_signatures (
    version BIGINT NOT NULL,
    signer_key BYTEA NOT NULL,
    signature BYTEA NOT NULL,
    PRIMARY KEY (version, signer_key)
);

-- One reward manifest per epoch (canonical protobuf bytes of schemas' RewardManifest).
CREATE TABLE reward_manifests (
    epoch BIGINT PRIMARY KEY,
    manifest_hash BYTEA NOT NULL,
    manifest BYTEA NOT NULL,
    computed_ms BIGINT NOT NULL
);

-- Oracle operators' approvals (ManifestApproval) of a manifest hash.
CREATE TABLE manifest_approvals (
    epoch BIGINT NOT NULL,
    manifest_hash BYTEA NOT NULL,
    signer_key BYTEA NOT NULL,
    signature BYTEA NOT NULL,
    signed_ms BIGINT NOT NULL,
    PRIMARY KEY (epoch, manifest_hash, signer_key)
);
