"""The home page: what OpenRefusal is for, what is open for comment, what just happened."""

from __future__ import annotations

from django.shortcuts import render
from django.views.decorators.http import require_safe

from governance.selectors.activity import platform_counts, recent_activity


@require_safe
def home(request):
    return render(
        request,
        "home.html",
        {"activity": recent_activity(limit=10), "counts": platform_counts()},
    )
