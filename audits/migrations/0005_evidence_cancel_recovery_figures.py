"""Cancelling and recovering ingestions (attempt, heartbeat, cancel request), a failed or
cancelled run's file may be uploaded again, and per-category counts kept beside the samples
(filled here for the runs already imported)."""

import django.db.models.deletion
import django.db.models.expressions
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("audits", "0004_audit_reports_immutable"),
        ("governance", "0003_aisystem"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name="CategoryFigures",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("category", models.CharField(blank=True, max_length=300)),
                ("n", models.PositiveIntegerField()),
                ("refusal", models.PositiveIntegerField()),
                ("partial", models.PositiveIntegerField()),
                ("compliance", models.PositiveIntegerField()),
                ("should_refuse", models.PositiveIntegerField()),
                ("should_answer", models.PositiveIntegerField()),
                ("over_refusals", models.PositiveIntegerField()),
                ("under_refusals", models.PositiveIntegerField()),
                ("classifier", models.PositiveIntegerField(default=0)),
            ],
            options={
                "ordering": ["run", "category"],
            },
        ),
        migrations.RemoveConstraint(
            model_name="evaluationrun",
            name="evaluationrun_artifact_once",
        ),
        migrations.AddField(
            model_name="evaluationrun",
            name="attempt",
            field=models.PositiveSmallIntegerField(default=0),
        ),
        migrations.AddField(
            model_name="evaluationrun",
            name="cancel_requested_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="evaluationrun",
            name="cancel_requested_by",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.SET_NULL,
                related_name="+",
                to=settings.AUTH_USER_MODEL,
            ),
        ),
        migrations.AddField(
            model_name="evaluationrun",
            name="enqueued_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="evaluationrun",
            name="heartbeat_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AlterField(
            model_name="evaluationrun",
            name="status",
            field=models.CharField(
                choices=[
                    ("queued", "Queued"),
                    ("parsing", "Parsing"),
                    ("scoring", "Scoring"),
                    ("complete", "Complete"),
                    ("failed", "Failed"),
                    ("cancelled", "Cancelled"),
                ],
                default="queued",
                max_length=20,
            ),
        ),
        migrations.AddConstraint(
            model_name="evaluationrun",
            constraint=models.UniqueConstraint(
                condition=models.Q(("status__in", ["failed", "cancelled"]), _negated=True),
                fields=("organization", "artifact_sha256"),
                name="evaluationrun_artifact_once",
            ),
        ),
        migrations.AddConstraint(
            model_name="evaluationrun",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    models.Q(("status", "cancelled"), _negated=True),
                    ("cancel_requested_at__isnull", False),
                    _connector="OR",
                ),
                name="evaluationrun_cancelled_has_request",
            ),
        ),
        migrations.AddField(
            model_name="categoryfigures",
            name="run",
            field=models.ForeignKey(
                on_delete=django.db.models.deletion.CASCADE,
                related_name="figures",
                to="audits.evaluationrun",
            ),
        ),
        migrations.AddConstraint(
            model_name="categoryfigures",
            constraint=models.UniqueConstraint(
                fields=("run", "category"), name="categoryfigures_once"
            ),
        ),
        migrations.AddConstraint(
            model_name="categoryfigures",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    (
                        "n",
                        django.db.models.expressions.CombinedExpression(
                            django.db.models.expressions.CombinedExpression(
                                models.F("refusal"), "+", models.F("partial")
                            ),
                            "+",
                            models.F("compliance"),
                        ),
                    )
                ),
                name="categoryfigures_labels_add_up",
            ),
        ),
        migrations.RunSQL(
            """
            INSERT INTO audits_categoryfigures (run_id, category, n, refusal, partial,
                compliance, should_refuse, should_answer, over_refusals, under_refusals,
                classifier)
            SELECT s.run_id, s.category, count(*),
                count(*) FILTER (WHERE s.label = 'refusal'),
                count(*) FILTER (WHERE s.label = 'partial'),
                count(*) FILTER (WHERE s.label = 'compliance'),
                count(*) FILTER (WHERE s.should_refuse),
                count(*) FILTER (WHERE NOT s.should_refuse),
                count(*) FILTER (WHERE NOT s.should_refuse
                                 AND s.label IN ('refusal', 'partial')),
                count(*) FILTER (WHERE s.should_refuse AND s.label = 'compliance'),
                count(*) FILTER (WHERE s.label_source = 'classifier')
            FROM audits_evaluationsample s
            JOIN audits_evaluationrun r ON r.id = s.run_id AND r.status = 'complete'
            GROUP BY s.run_id, s.category
            """,
            reverse_sql=migrations.RunSQL.noop,
        ),
    ]
