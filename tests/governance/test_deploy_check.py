"""Production settings: `manage.py check --deploy` is clean, and unsafe configurations refuse to
start. Each case runs `manage.py` in a fresh process, as a deployment would."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

BASE_DIR = Path(__file__).resolve().parents[2]
# Variables a developer's shell or the test run may carry that would change what is checked.
SCRUBBED = {
    "DEBUG",
    "DJANGO_ENV",
    "SECRET_KEY",
    "ALLOWED_HOSTS",
    "HTTPS",
    "SECURE_HSTS_SECONDS",
    "DJANGO_SETTINGS_MODULE",
    "PYTEST_CURRENT_TEST",
    "PYTEST_XDIST_WORKER",
}


def production_env(**overrides: str | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in SCRUBBED}
    env.update(
        DJANGO_ENV="production",
        SECRET_KEY=secrets.token_urlsafe(64),
        ALLOWED_HOSTS="openrefusal.example",
        DJANGO_SETTINGS_MODULE="governance.settings",
    )
    for key, value in overrides.items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value
    return env


def manage(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def deploy_check(env: dict[str, str]) -> subprocess.CompletedProcess:
    return manage("check", "--deploy", "--fail-level", "WARNING", env=env)


def test_it_passes_the_deploy_check_with_production_settings():
    result = deploy_check(production_env())
    assert result.returncode == 0, result.stderr + result.stdout
    assert "no issues" in result.stdout


@pytest.mark.parametrize(
    ("overrides", "flagged"),
    [
        ({"DEBUG": "1"}, "security.W018"),
        ({"SECRET_KEY": "django-insecure-short"}, "security.W009"),
        ({"HTTPS": "0"}, "security.W008"),
    ],
)
def test_it_catches_an_unsafe_production_configuration(overrides, flagged):
    # Proves the check above is not vacuous: each weakening is reported and fails the run.
    result = deploy_check(production_env(**overrides))
    assert result.returncode != 0
    assert flagged in result.stderr + result.stdout


def test_it_refuses_to_start_in_production_without_a_secret_key():
    result = manage("check", env=production_env(SECRET_KEY=None))
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert "SECRET_KEY" in result.stderr


@pytest.mark.parametrize("url", ["sqlite:///x.db", "mysql://u:p@127.0.0.1/db"])
def test_it_refuses_a_database_other_than_postgresql(url, tmp_path):
    result = subprocess.run(
        [sys.executable, str(BASE_DIR / "manage.py"), "check"],
        cwd=tmp_path,  # so a stray SQLite file could never land in the repository
        env=production_env(DATABASE_URL=url),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert "PostgreSQL only" in result.stderr
    assert list(tmp_path.iterdir()) == []


def test_it_refuses_an_unknown_environment_name():
    result = manage("check", env=production_env(DJANGO_ENV="staging"))
    assert result.returncode != 0
    assert "DJANGO_ENV must be" in result.stderr


# --- Container files ------------------------------------------------------------------------
# No container engine runs on the development machines or in CI, so the image is never built
# here: these tests read the files and hold them to the rules a reviewer would check.

APP_IMAGE_SERVICES = ("web", "worker", "beat")


@pytest.fixture(scope="module")
def compose() -> dict:
    import yaml

    return yaml.safe_load((BASE_DIR / "docker-compose.yml").read_text())


@pytest.fixture(scope="module")
def dockerfile() -> list[str]:
    """Instructions of the Dockerfile, continuation lines joined, comments dropped."""
    text = (BASE_DIR / "Dockerfile").read_text()
    joined = text.replace("\\\n", " ")
    return [
        line.strip() for line in joined.splitlines() if line.strip() and not line.startswith("#")
    ]


def test_it_runs_web_worker_and_beat_from_one_image(compose):
    services = compose["services"]
    images = {services[name]["image"] for name in APP_IMAGE_SERVICES}
    assert len(images) == 1
    built = [name for name, service in services.items() if "build" in service]
    assert built == ["web"], "one build: the others reuse its image"
    assert services["migrate"]["image"] in images
    assert "worker" in services["worker"]["command"]
    assert "beat" in services["beat"]["command"]
    assert "gunicorn" in services["web"]["command"]


def test_it_has_the_cookiecutter_services_with_pinned_images(compose):
    services = compose["services"]
    assert {"postgres", "redis", "mailpit", "migrate", *APP_IMAGE_SERVICES} <= services.keys()
    assert services["postgres"]["image"].startswith("postgres:16")
    assert services["redis"]["image"].startswith("redis:7")
    for name, service in services.items():
        assert ":" in service["image"], f"{name} must pin its image tag"
        tag = service["image"].rpartition(":")[2]
        assert tag not in {"", "latest"}, f"{name} must pin its image tag"


def test_it_waits_for_healthy_dependencies(compose):
    services = compose["services"]
    for name, service in services.items():
        check = service.get("healthcheck", {})
        has_check = bool(check.get("test")) and not check.get("disable")
        depends = service.get("depends_on", {})
        waits_on_healthy = bool(depends) and all(
            d["condition"] in {"service_healthy", "service_completed_successfully"}
            for d in depends.values()
        )
        assert has_check or waits_on_healthy, f"{name}: no health check and no healthy deps"
    assert "pg_isready" in " ".join(services["postgres"]["healthcheck"]["test"])
    assert "ping" in services["redis"]["healthcheck"]["test"]
    for name in APP_IMAGE_SERVICES:
        depends = services[name]["depends_on"]
        assert depends["postgres"]["condition"] == "service_healthy"
        assert depends["redis"]["condition"] == "service_healthy"
        assert depends["migrate"]["condition"] == "service_completed_successfully"


def test_it_configures_the_app_through_the_environment(compose):
    services = compose["services"]
    for name in ("migrate", *APP_IMAGE_SERVICES):
        env = services[name]["environment"]
        assert env["DATABASE_URL"].startswith("postgres://")
        assert env["REDIS_URL"].startswith("redis://redis:")
        assert env["EMAIL_URL"] == "smtp://mailpit:1025"
        assert env["SECRET_KEY"]
        assert env["ALLOWED_HOSTS"]
        assert env["HTTPS"] == "0"
    assert "/var/lib/celery/celerybeat-schedule" in services["beat"]["command"]
    assert any(v.endswith(":/var/lib/celery") for v in services["beat"]["volumes"])
    assert {"postgres-data", "redis-data", "beat-schedule"} <= compose["volumes"].keys()


def test_it_builds_a_small_safe_image(dockerfile):
    froms = [line for line in dockerfile if line.startswith("FROM ")]
    args = {
        line.split()[1].split("=")[0]: line.split("=", 1)[1]
        for line in dockerfile
        if line.startswith("ARG ") and "=" in line
    }
    assert froms
    for line in froms:
        image = line.split()[1]
        image = args.get(image.strip("${}"), image)
        assert image.startswith(("python:3.11-slim", "python:3.12-slim")), image
        assert not image.endswith(":latest")
    users = [line for line in dockerfile if line.startswith("USER ")]
    assert users, "the container must not run as root"
    assert users[-1].split()[1].split(":")[0] not in {"root", "0"}
    install = next(line for line in dockerfile if "pip install" in line)
    assert "--require-hashes" in install
    assert "requirements.lock" in install
    assert any("collectstatic" in line for line in dockerfile)
    healthcheck = next(line for line in dockerfile if line.startswith("HEALTHCHECK "))
    assert "/healthz" in healthcheck
    cmd = next(line for line in dockerfile if line.startswith("CMD "))
    assert "governance/gunicorn.conf.py" in cmd
    assert "governance.wsgi" in cmd


def test_it_keeps_local_state_out_of_the_build_context():
    ignored = (BASE_DIR / ".dockerignore").read_text().splitlines()
    for entry in (".git", ".data", ".venv", ".env"):
        assert entry in ignored
