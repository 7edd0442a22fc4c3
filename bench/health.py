"""`/healthz`: what a load balancer's probe costs (a database round trip and a broker ping)."""

from __future__ import annotations

from bench.core import Context, Figure, http_load, latency_figures

AREA = "operations"


def run(ctx: Context) -> list[Figure]:
    result = http_load(ctx.base_url, "/healthz", requests=ctx.scaled(400, 100), concurrency=4)
    return latency_figures(AREA, "/healthz", result, ctx)
