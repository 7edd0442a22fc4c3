"""Demo data hooks: apps add what `manage.py seed_demo` loads for `make run`.

A seeder is a callable taking the dict of demo people by role ("company owner", "citizen", …)
and must be idempotent: running the seed twice changes nothing and writes nothing to the ledger.
Apps register theirs in `AppConfig.ready()`; seeders run in registration order, after the core's
people and organizations exist.
"""

from __future__ import annotations

from collections.abc import Callable

DemoSeeder = Callable[[dict], None]
DEMO_SEEDERS: list[DemoSeeder] = []


def register_demo_seeder(seeder: DemoSeeder) -> DemoSeeder:
    if seeder not in DEMO_SEEDERS:
        DEMO_SEEDERS.append(seeder)
    return seeder
