"""The embedded default: a local PostgreSQL (pgserver) and a filesystem Celery broker in `.data/`.

Used only when `DATABASE_URL` / `REDIS_URL` are not set, so `make run` needs nothing but Python.
"""

from __future__ import annotations

import secrets
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

BASE_DIR = Path(__file__).resolve().parent.parent
DATA_DIR = BASE_DIR / ".data"


def database_settings() -> dict:
    """Start (or reuse) the local PostgreSQL server and return Django's settings for it.

    pgserver keeps one server per data directory and serialises start-up with a file lock,
    so the web server, the worker and beat can all call this at once.
    """
    import os

    # pgserver keeps its lock in the user's runtime folder; give it one of ours when the
    # session has none (containers, CI), instead of a warning and a shared /tmp fallback.
    if not os.environ.get("XDG_RUNTIME_DIR"):
        runtime = DATA_DIR / "run"
        runtime.mkdir(parents=True, exist_ok=True, mode=0o700)
        os.environ["XDG_RUNTIME_DIR"] = str(runtime)

    import pgserver

    DATA_DIR.mkdir(exist_ok=True)
    server = pgserver.get_server(DATA_DIR / "pg", cleanup_mode=None)
    # pgserver's own database is "postgres"; the app keeps its own.
    exists = server.psql("SELECT count(*) FROM pg_database WHERE datname = 'openrefusal';")
    if " 0\n" in exists:
        server.psql("CREATE DATABASE openrefusal;")
    return {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": "openrefusal",
        "USER": "postgres",
        # The socket folder (pgserver moves it to /tmp when the path is too long for a socket).
        "HOST": parse_qs(urlsplit(server.get_uri()).query)["host"][0],
        "PORT": "",
    }


def broker_folder() -> Path:
    folder = DATA_DIR / "celery"
    for sub in ("queue", "processed", "control"):
        (folder / sub).mkdir(parents=True, exist_ok=True)
    return folder


def secret_key() -> str:
    """A secret key kept in `.data/` so sessions survive restarts of the local server."""
    DATA_DIR.mkdir(exist_ok=True)
    path = DATA_DIR / "secret_key"
    if not path.exists():
        path.write_text(secrets.token_urlsafe(50))
        path.chmod(0o600)
    return path.read_text().strip()


def stop_database() -> None:
    """Stop the local PostgreSQL server, if `make run` started it."""
    import os

    from pgserver._commands import pg_ctl

    pgdata = DATA_DIR / "pg"
    if not (pgdata / "postmaster.pid").exists():
        return
    user = "pgserver" if os.geteuid() == 0 else None  # pgserver runs it as this user under root
    pg_ctl(["-w", "-m", "fast", "stop"], pgdata=pgdata, user=user)
