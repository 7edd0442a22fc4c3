"""Drift is compared framing by framing: each alert names the framing whose samples were
compared, and carries the Holm-adjusted p-value over the clause's framings. Alerts opened
before compared all of a clause's samples at once: their framing stays empty and their
adjusted p-value is their own (one comparison)."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("audits", "0006_robustness_drift"),
    ]

    operations = [
        migrations.AddField(
            model_name="driftalert",
            name="framing",
            field=models.CharField(
                blank=True,
                default="",
                help_text="The framing whose samples were compared, in both runs (direct, "
                "role_play, …); empty: the samples with no recorded framing.",
                max_length=60,
            ),
            preserve_default=False,
        ),
        migrations.AddField(
            model_name="driftalert",
            name="framings_compared",
            field=models.PositiveSmallIntegerField(default=1),
        ),
        migrations.AddField(
            model_name="driftalert",
            name="p_adjusted",
            field=models.FloatField(null=True),
        ),
        migrations.RunSQL(
            "UPDATE audits_driftalert SET p_adjusted = p_value", reverse_sql=migrations.RunSQL.noop
        ),
        migrations.AlterField(
            model_name="driftalert",
            name="p_adjusted",
            field=models.FloatField(),
        ),
        migrations.RemoveConstraint(
            model_name="driftalert",
            name="driftalert_once",
        ),
        migrations.AddConstraint(
            model_name="driftalert",
            constraint=models.UniqueConstraint(
                fields=("version", "clause_key", "framing", "earlier_run", "later_run"),
                name="driftalert_once_per_framing",
            ),
        ),
    ]
