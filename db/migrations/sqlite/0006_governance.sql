-- Governance: the applied parameter sets and their signatures are an append-only audit
-- history. Keep in step with the other backend's migration.
CREATE TRIGGER parameter_sets_no_update BEFORE UPDATE ON parameter_sets
BEGIN
    SELECT RAISE(ABORT, 'parameter_sets is append-only');
END;
CREATE TRIGGER parameter_sets_no_delete BEFORE DELETE ON parameter_sets
BEGIN
    SELECT RAISE(ABORT, 'parameter_sets is append-only');
END;
CREATE TRIGGER parameter_signatures_no_update BEFORE UPDATE ON parameter_signatures
BEGIN
    SELECT RAISE(ABORT, 'parameter_signatures is append-only');
END;
CREATE TRIGGER parameter_signatures_no_delete BEFORE DELETE ON parameter_signatures
BEGIN
    SELECT RAISE(ABORT, 'parameter_signatures is append-only');
END;
