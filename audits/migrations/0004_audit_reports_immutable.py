"""A submitted audit report is on the record: PostgreSQL itself refuses to change its content.

From submission on, a report's text, scope, declaration and hashes stay as filed; its status
only moves submitted → embargoed → published; it cannot be deleted; its scope, attachments and
findings can no longer be added or removed; a finding's content stays fixed while its status
moves. The company's response may be revised until publication, and given once after it.
"""

from django.db import migrations

FORWARD = """
CREATE OR REPLACE FUNCTION audits_report_immutable() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        IF OLD.status <> 'draft' THEN
            RAISE EXCEPTION 'audit report % is % and cannot be deleted', OLD.id, OLD.status
                USING ERRCODE = 'insufficient_privilege';
        END IF;
        RETURN OLD;
    END IF;
    IF OLD.status = 'draft' THEN
        RETURN NEW;
    END IF;
    IF NEW.auditor_id IS DISTINCT FROM OLD.auditor_id
       OR NEW.audited_id IS DISTINCT FROM OLD.audited_id
       OR NEW.title IS DISTINCT FROM OLD.title
       OR NEW.system_versions IS DISTINCT FROM OLD.system_versions
       OR NEW.period_start IS DISTINCT FROM OLD.period_start
       OR NEW.period_end IS DISTINCT FROM OLD.period_end
       OR NEW.methodology IS DISTINCT FROM OLD.methodology
       OR NEW.summary IS DISTINCT FROM OLD.summary
       OR NEW.opinion IS DISTINCT FROM OLD.opinion
       OR NEW.declares_no_non_audit_work IS DISTINCT FROM OLD.declares_no_non_audit_work
       OR NEW.declares_no_contingent_fee IS DISTINCT FROM OLD.declares_no_contingent_fee
       OR NEW.relationships_disclosed IS DISTINCT FROM OLD.relationships_disclosed
       OR NEW.declared_at IS DISTINCT FROM OLD.declared_at
       OR NEW.embargo_days IS DISTINCT FROM OLD.embargo_days
       OR NEW.submitted_at IS DISTINCT FROM OLD.submitted_at
       OR NEW.content_sha256 IS DISTINCT FROM OLD.content_sha256
       OR NEW.created_at IS DISTINCT FROM OLD.created_at
       OR (OLD.notified_at IS NOT NULL AND NEW.notified_at IS DISTINCT FROM OLD.notified_at)
       OR (OLD.published_at IS NOT NULL AND NEW.published_at IS DISTINCT FROM OLD.published_at)
    THEN
        RAISE EXCEPTION 'audit report % was submitted and its content cannot change', OLD.id
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF NEW.status IS DISTINCT FROM OLD.status AND NOT (
        (OLD.status = 'submitted' AND NEW.status = 'embargoed')
        OR (OLD.status = 'embargoed' AND NEW.status = 'published')
    ) THEN
        RAISE EXCEPTION 'audit report % cannot go from % to %', OLD.id, OLD.status, NEW.status
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF OLD.status = 'published' AND OLD.company_response <> ''
       AND NEW.company_response IS DISTINCT FROM OLD.company_response THEN
        RAISE EXCEPTION 'the company response to audit report % was published', OLD.id
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER audits_report_immutable
    BEFORE UPDATE OR DELETE ON audits_auditreport
    FOR EACH ROW EXECUTE FUNCTION audits_report_immutable();

-- Rows that belong to a report (its scope, attachments, findings): added or removed only
-- while the report is a draft. TG_ARGV[0] names the column holding the report's id.
CREATE OR REPLACE FUNCTION audits_report_part_guard() RETURNS trigger AS $$
DECLARE
    row_data jsonb;
    report_status text;
BEGIN
    row_data := CASE WHEN TG_OP = 'DELETE' THEN to_jsonb(OLD) ELSE to_jsonb(NEW) END;
    SELECT status INTO report_status FROM audits_auditreport
        WHERE id = (row_data ->> TG_ARGV[0])::bigint;
    IF report_status IS NOT NULL AND report_status <> 'draft' THEN
        RAISE EXCEPTION 'audit report % was submitted: % cannot change',
            row_data ->> TG_ARGV[0], TG_TABLE_NAME
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF TG_OP = 'DELETE' THEN
        RETURN OLD;
    END IF;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER audits_report_versions_guard
    BEFORE INSERT OR UPDATE OR DELETE ON audits_auditreport_versions
    FOR EACH ROW EXECUTE FUNCTION audits_report_part_guard('auditreport_id');
CREATE TRIGGER audits_report_systems_guard
    BEFORE INSERT OR UPDATE OR DELETE ON audits_auditreport_systems
    FOR EACH ROW EXECUTE FUNCTION audits_report_part_guard('auditreport_id');
CREATE TRIGGER audits_report_runs_guard
    BEFORE INSERT OR UPDATE OR DELETE ON audits_auditreport_runs
    FOR EACH ROW EXECUTE FUNCTION audits_report_part_guard('auditreport_id');
CREATE TRIGGER audits_reportattachment_guard
    BEFORE INSERT OR UPDATE OR DELETE ON audits_reportattachment
    FOR EACH ROW EXECUTE FUNCTION audits_report_part_guard('report_id');
CREATE TRIGGER audits_finding_insert_delete_guard
    BEFORE INSERT OR DELETE ON audits_finding
    FOR EACH ROW EXECUTE FUNCTION audits_report_part_guard('report_id');

-- A finding's content is fixed with its report; only its status and the company's answer move.
CREATE OR REPLACE FUNCTION audits_finding_immutable() RETURNS trigger AS $$
DECLARE
    report_status text;
BEGIN
    SELECT status INTO report_status FROM audits_auditreport WHERE id = OLD.report_id;
    IF report_status = 'draft' THEN
        RETURN NEW;
    END IF;
    IF NEW.report_id IS DISTINCT FROM OLD.report_id
       OR NEW.number IS DISTINCT FROM OLD.number
       OR NEW.title IS DISTINCT FROM OLD.title
       OR NEW.version_id IS DISTINCT FROM OLD.version_id
       OR NEW.clause_id IS DISTINCT FROM OLD.clause_id
       OR NEW.clause_key IS DISTINCT FROM OLD.clause_key
       OR NEW.severity IS DISTINCT FROM OLD.severity
       OR NEW.criterion IS DISTINCT FROM OLD.criterion
       OR NEW.observed IS DISTINCT FROM OLD.observed
       OR NEW.recommendation IS DISTINCT FROM OLD.recommendation
       OR NEW.target_date IS DISTINCT FROM OLD.target_date
       OR NEW.withhold_samples IS DISTINCT FROM OLD.withhold_samples
       OR NEW.conformance IS DISTINCT FROM OLD.conformance
       OR NEW.created_at IS DISTINCT FROM OLD.created_at THEN
        RAISE EXCEPTION 'finding % belongs to a submitted report; its content cannot change',
            OLD.id USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF NEW.status IS DISTINCT FROM OLD.status AND NOT (
        (OLD.status = 'open' AND NEW.status IN ('acknowledged', 'remediated', 'disputed'))
        OR (OLD.status = 'acknowledged' AND NEW.status IN ('remediated', 'disputed'))
    ) THEN
        RAISE EXCEPTION 'finding % cannot go from % to %', OLD.id, OLD.status, NEW.status
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER audits_finding_immutable
    BEFORE UPDATE ON audits_finding
    FOR EACH ROW EXECUTE FUNCTION audits_finding_immutable();

-- What a finding cites is fixed with it.
CREATE OR REPLACE FUNCTION audits_finding_part_guard() RETURNS trigger AS $$
DECLARE
    finding_id bigint;
    report_status text;
BEGIN
    finding_id := CASE WHEN TG_OP = 'DELETE' THEN OLD.finding_id ELSE NEW.finding_id END;
    SELECT r.status INTO report_status FROM audits_finding f
        JOIN audits_auditreport r ON r.id = f.report_id WHERE f.id = finding_id;
    IF report_status IS NOT NULL AND report_status <> 'draft' THEN
        RAISE EXCEPTION 'finding % belongs to a submitted report: what it cites cannot change',
            finding_id USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF TG_OP = 'DELETE' THEN
        RETURN OLD;
    END IF;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER audits_finding_runs_guard
    BEFORE INSERT OR UPDATE OR DELETE ON audits_finding_runs
    FOR EACH ROW EXECUTE FUNCTION audits_finding_part_guard();
CREATE TRIGGER audits_finding_samples_guard
    BEFORE INSERT OR UPDATE OR DELETE ON audits_finding_samples
    FOR EACH ROW EXECUTE FUNCTION audits_finding_part_guard();
"""

BACKWARD = """
DROP TRIGGER IF EXISTS audits_finding_samples_guard ON audits_finding_samples;
DROP TRIGGER IF EXISTS audits_finding_runs_guard ON audits_finding_runs;
DROP FUNCTION IF EXISTS audits_finding_part_guard();
DROP TRIGGER IF EXISTS audits_finding_immutable ON audits_finding;
DROP FUNCTION IF EXISTS audits_finding_immutable();
DROP TRIGGER IF EXISTS audits_finding_insert_delete_guard ON audits_finding;
DROP TRIGGER IF EXISTS audits_reportattachment_guard ON audits_reportattachment;
DROP TRIGGER IF EXISTS audits_report_runs_guard ON audits_auditreport_runs;
DROP TRIGGER IF EXISTS audits_report_systems_guard ON audits_auditreport_systems;
DROP TRIGGER IF EXISTS audits_report_versions_guard ON audits_auditreport_versions;
DROP FUNCTION IF EXISTS audits_report_part_guard();
DROP TRIGGER IF EXISTS audits_report_immutable ON audits_auditreport;
DROP FUNCTION IF EXISTS audits_report_immutable();
"""


class Migration(migrations.Migration):
    dependencies = [("audits", "0003_audit_reports")]

    operations = [migrations.RunSQL(FORWARD, BACKWARD)]
