-- Governance: the applied parameter sets and their signatures are an append-only audit
-- history. Keep in step with the other backend's migration.
CREATE FUNCTION governance_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% is append-only', TG_TABLE_NAME;
END;
$$;
CREATE TRIGGER parameter_sets_append_only BEFORE UPDATE OR DELETE ON parameter_sets
    FOR EACH ROW EXECUTE FUNCTION governance_append_only();
CREATE TRIGGER parameter_signatures_append_only BEFORE UPDATE OR DELETE ON parameter_signatures
    FOR EACH ROW EXECUTE FUNCTION governance_append_only();
