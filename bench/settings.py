"""The site's own settings, pointed at the bench database and the bench URLconf.

Only `python -m bench` uses this module (for its gunicorn and helper processes); the hello-world
baseline view is therefore never part of the public site.
"""

from governance.settings import *  # noqa: F403 — the very same settings, two values changed
from governance.settings import DATABASES, env

ROOT_URLCONF = "bench.urls"
DATABASES["default"]["NAME"] = env.str("BENCH_DATABASE_NAME", default="openrefusal_bench")
