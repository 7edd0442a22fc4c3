"""Published policy versions are immutable in the database itself, not only in Python.

A version that left the draft state keeps its text, number, dates and hashes forever; the only
changes allowed are published → superseded and published/superseded → withdrawn (with the
withdrawal fields). Its clauses can no longer be inserted, changed or deleted, and it cannot be
deleted.
"""

from django.db import migrations

FORWARD = """
CREATE OR REPLACE FUNCTION policies_version_immutable() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        IF OLD.status <> 'draft' THEN
            RAISE EXCEPTION 'policy version % is % and cannot be deleted', OLD.id, OLD.status
                USING ERRCODE = 'insufficient_privilege';
        END IF;
        RETURN OLD;
    END IF;
    IF OLD.status = 'draft' THEN
        RETURN NEW;
    END IF;
    IF NEW.policy_id IS DISTINCT FROM OLD.policy_id
       OR NEW.major IS DISTINCT FROM OLD.major
       OR NEW.minor IS DISTINCT FROM OLD.minor
       OR NEW.patch IS DISTINCT FROM OLD.patch
       OR NEW.body_markdown IS DISTINCT FROM OLD.body_markdown
       OR NEW.summary_of_changes IS DISTINCT FROM OLD.summary_of_changes
       OR NEW.created_at IS DISTINCT FROM OLD.created_at
       OR NEW.published_at IS DISTINCT FROM OLD.published_at
       OR NEW.effective_at IS DISTINCT FROM OLD.effective_at
       OR NEW.content_sha256 IS DISTINCT FROM OLD.content_sha256
       OR NEW.previous_sha256 IS DISTINCT FROM OLD.previous_sha256 THEN
        RAISE EXCEPTION 'policy version % is % and its content cannot change', OLD.id, OLD.status
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF NEW.status IS DISTINCT FROM OLD.status AND NOT (
        (OLD.status = 'published' AND NEW.status IN ('superseded', 'withdrawn'))
        OR (OLD.status = 'superseded' AND NEW.status = 'withdrawn')
    ) THEN
        RAISE EXCEPTION 'policy version % cannot go from % to %', OLD.id, OLD.status, NEW.status
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF OLD.status = 'withdrawn' AND (
        NEW.withdrawn_at IS DISTINCT FROM OLD.withdrawn_at
        OR NEW.withdrawn_reason IS DISTINCT FROM OLD.withdrawn_reason
    ) THEN
        RAISE EXCEPTION 'policy version % was withdrawn; its withdrawal is on the record', OLD.id
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER policies_version_immutable
    BEFORE UPDATE OR DELETE ON policies_policyversion
    FOR EACH ROW EXECUTE FUNCTION policies_version_immutable();

CREATE OR REPLACE FUNCTION policies_clause_immutable() RETURNS trigger AS $$
DECLARE
    version_status text;
BEGIN
    SELECT status INTO version_status FROM policies_policyversion
        WHERE id = COALESCE(NEW.version_id, OLD.version_id);
    IF version_status IS NOT NULL AND version_status <> 'draft' THEN
        RAISE EXCEPTION 'clauses of a % policy version cannot be changed', version_status
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF TG_OP = 'UPDATE' AND NEW.version_id IS DISTINCT FROM OLD.version_id THEN
        SELECT status INTO version_status FROM policies_policyversion WHERE id = OLD.version_id;
        IF version_status <> 'draft' THEN
            RAISE EXCEPTION 'clauses of a % policy version cannot be moved', version_status
                USING ERRCODE = 'insufficient_privilege';
        END IF;
    END IF;
    IF TG_OP = 'DELETE' THEN
        RETURN OLD;
    END IF;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER policies_clause_immutable
    BEFORE INSERT OR UPDATE OR DELETE ON policies_clause
    FOR EACH ROW EXECUTE FUNCTION policies_clause_immutable();
"""

REVERSE = """
DROP TRIGGER IF EXISTS policies_clause_immutable ON policies_clause;
DROP FUNCTION IF EXISTS policies_clause_immutable();
DROP TRIGGER IF EXISTS policies_version_immutable ON policies_policyversion;
DROP FUNCTION IF EXISTS policies_version_immutable();
"""


class Migration(migrations.Migration):
    dependencies = [("policies", "0001_initial")]

    operations = [migrations.RunSQL(FORWARD, REVERSE)]
