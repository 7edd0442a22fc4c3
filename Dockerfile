# OpenRefusal: one image for the web server, the Celery worker and Celery beat.
#   docker build -t openrefusal .
#   docker run -e SECRET_KEY=… -e DATABASE_URL=postgres://… -e REDIS_URL=redis://… -e ALLOWED_HOSTS=… openrefusal
# The default command serves the site with gunicorn; docker-compose.yml runs the same image as
# `celery -A governance worker` and `celery -A governance beat`.

# The lock file is resolved for Python 3.11 (see `make lock`), so the image runs exactly that.
ARG PYTHON_IMAGE=python:3.11-slim-bookworm

# --- Build stage: a virtualenv from the hashed lock file, nothing else ------------------------
FROM ${PYTHON_IMAGE} AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PYTHONDONTWRITEBYTECODE=1
RUN python -m venv /opt/venv
COPY requirements-runtime.lock /tmp/requirements.lock
# --require-hashes: every wheel is checked against the hash committed in the lock file.
RUN /opt/venv/bin/pip install --require-hashes -r /tmp/requirements.lock

# --- Runtime stage ------------------------------------------------------------------------------
FROM ${PYTHON_IMAGE} AS runtime
ARG APP_VERSION=""
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    DJANGO_ENV=production \
    BIND=0.0.0.0:8000 \
    STATIC_ROOT=/srv/static \
    MEDIA_ROOT=/srv/media \
    LOG_FORMAT=json \
    APP_VERSION=${APP_VERSION}

# An unprivileged user with a fixed id, so volume ownership is predictable across hosts.
RUN groupadd --system --gid 10001 app \
    && useradd --system --uid 10001 --gid app --home-dir /srv/app --no-create-home \
       --shell /usr/sbin/nologin app

COPY --from=build /opt/venv /opt/venv
WORKDIR /srv/app
# The code stays owned by root: the app user can read it but never rewrite it.
COPY . .

# Static files are collected into the image at build time. Settings need a secret key and
# server URLs to load, but collectstatic connects to neither: these values exist only here.
# Then: writable places for the app user (uploads, beat's schedule file, and .data for the
# rare command that keeps local state there).
RUN SECRET_KEY=build-only-collectstatic-key-never-used-at-runtime-0123456789abcdef \
    DATABASE_URL=postgres://build@127.0.0.1:1/build \
    REDIS_URL=redis://127.0.0.1:1/0 \
    python manage.py collectstatic --noinput --verbosity 0 \
    && python -m compileall -q governance policies audits appeals \
    && mkdir -p /srv/media /var/lib/celery /srv/app/.data \
    && chown app:app /srv/media /var/lib/celery /srv/app/.data

USER app:app
EXPOSE 8000

# The probe sends a Host the site accepts (the first of ALLOWED_HOSTS) to the port gunicorn
# binds; /healthz answers 503 when PostgreSQL or the broker is unreachable, which fails it.
HEALTHCHECK --interval=30s --timeout=5s --start-period=40s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request as r; h = os.environ.get('ALLOWED_HOSTS', '').split(',')[0].strip().lstrip('.'); h = 'localhost' if h in ('', '*') else h; p = os.environ.get('BIND', ':8000').rsplit(':', 1)[1]; r.urlopen(r.Request('http://127.0.0.1:' + p + '/healthz', headers={'Host': h}), timeout=4)"]

CMD ["gunicorn", "-c", "governance/gunicorn.conf.py", "governance.wsgi"]
