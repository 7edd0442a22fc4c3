"""AI systems: the models a developer organization ships. Their releases are free strings on
evidence and appeals, so nothing here has to guess a vendor's versioning scheme."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class AISystem(models.Model):
    organization = models.ForeignKey(
        "governance.Organization", on_delete=models.PROTECT, related_name="systems"
    )
    name = models.CharField(max_length=120)
    slug = models.SlugField(max_length=80)
    description = models.TextField(blank=True, max_length=5000)
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["organization__name", "name"]
        verbose_name = "AI system"
        constraints = [
            models.UniqueConstraint(fields=["organization", "slug"], name="aisystem_slug_unique"),
        ]

    def __str__(self) -> str:
        return self.name
