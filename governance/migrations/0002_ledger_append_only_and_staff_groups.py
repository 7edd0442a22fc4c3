"""The ledger is append-only in the database itself; staff groups exist from the start."""

from django.db import migrations

LEDGER_TRIGGER = """
CREATE OR REPLACE FUNCTION governance_ledger_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'the public ledger is append-only: % is not allowed on ledger entries', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER governance_ledger_no_update_delete
    BEFORE UPDATE OR DELETE ON governance_ledgerentry
    FOR EACH ROW EXECUTE FUNCTION governance_ledger_append_only();
"""

LEDGER_TRIGGER_REVERSE = """
DROP TRIGGER IF EXISTS governance_ledger_no_update_delete ON governance_ledgerentry;
DROP FUNCTION IF EXISTS governance_ledger_append_only();
"""

STAFF_GROUPS = ["moderators"]


def create_groups(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    for name in STAFF_GROUPS:
        Group.objects.get_or_create(name=name)


class Migration(migrations.Migration):
    dependencies = [
        ("governance", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
    ]

    operations = [
        migrations.RunSQL(LEDGER_TRIGGER, LEDGER_TRIGGER_REVERSE),
        migrations.RunPython(create_groups, migrations.RunPython.noop),
    ]
