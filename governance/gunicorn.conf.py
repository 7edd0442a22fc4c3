"""gunicorn settings: `gunicorn -c governance/gunicorn.conf.py governance.wsgi`, everywhere.

Everything is read from the environment, so `make run`, the container and `make bench` share it:
BIND (or HOST + PORT), WEB_CONCURRENCY, WEB_THREADS, WEB_TIMEOUT, WEB_MAX_REQUESTS,
FORWARDED_ALLOW_IPS, ACCESS_LOG (a path, "-" for stdout, "" for none), LOG_FORMAT (json|text).
"""

from __future__ import annotations

import os

from gunicorn import glogging


def _int(name: str, default: int) -> int:
    value = os.environ.get(name, "")
    try:
        return int(value) if value else default
    except ValueError as exc:
        raise SystemExit(f"{name} must be an integer, not {value!r}") from exc


def _cores() -> int:
    try:
        # The CPUs this process may run on (respects cpusets and `docker --cpuset-cpus`).
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


# --- Where to listen ---------------------------------------------------------------------------
# The container sets BIND=0.0.0.0:8000; on a developer's machine the default stays on loopback.
bind = os.environ.get("BIND") or f"{os.environ.get('HOST', '127.0.0.1')}:{_int('PORT', 8000)}"

# --- Workers -----------------------------------------------------------------------------------
# The classic 2 x cores + 1, capped: each worker holds its own database connections, and past
# a dozen the database, not gunicorn, is the limit.
workers = _int("WEB_CONCURRENCY", min(2 * _cores() + 1, 12))
# Threads let a worker overlap waiting on PostgreSQL or Redis without the memory of a process.
worker_class = "gthread"
threads = _int("WEB_THREADS", 4)
timeout = _int("WEB_TIMEOUT", 30)
graceful_timeout = _int("WEB_GRACEFUL_TIMEOUT", 30)
keepalive = _int("WEB_KEEPALIVE", 5)
# Recycle workers now and then so a slow leak never takes a node down; the jitter keeps them
# from all restarting at once.
max_requests = _int("WEB_MAX_REQUESTS", 2000)
max_requests_jitter = _int("WEB_MAX_REQUESTS_JITTER", max(max_requests // 10, 1))
# Load Django once in the master and fork: faster starts, shared memory pages, and a broken
# configuration fails before any worker starts.
preload_app = True
# The worker heartbeat file; in a container /tmp may be an overlay on disk, which can stall it.
SHM = "/dev/shm"  # noqa: S108 — a RAM-backed folder, the one gunicorn's docs recommend
if os.path.isdir(SHM):
    worker_tmp_dir = SHM

# --- Behind a proxy ----------------------------------------------------------------------------
# Which proxies may set X-Forwarded-For/-Proto (the load balancer's address; "*" only when
# nothing else can reach gunicorn).
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1,::1")
proxy_allow_ips = forwarded_allow_ips
limit_request_line = 8190
limit_request_fields = 100

# gunicorn's control socket (`gunicornc`) defaults to one path per user, which two servers on one
# machine (make run beside make bench, or tests) would fight over; on only when a path is given.
if os.environ.get("GUNICORN_CONTROL_SOCKET"):
    control_socket = os.environ["GUNICORN_CONTROL_SOCKET"]
else:
    control_socket_disable = True

# --- Logs ----------------------------------------------------------------------------------------
LOG_FORMAT = os.environ.get(
    "LOG_FORMAT", "text" if os.environ.get("DJANGO_ENV") == "local" else "json"
)
accesslog = os.environ.get("ACCESS_LOG", "-") or None
errorlog = "-"
loglevel = os.environ.get("GUNICORN_LOG_LEVEL", "info")
capture_output = False


class JsonLogger(glogging.Logger):
    """gunicorn's logger, writing one JSON object per line when LOG_FORMAT=json — the same shape
    as the application's own log lines, so one log pipeline reads both."""

    def setup(self, cfg):
        super().setup(cfg)
        if LOG_FORMAT != "json":
            return
        from pythonjsonlogger.json import JsonFormatter

        formatter = JsonFormatter(
            "%(asctime)s %(levelname)s %(name)s %(message)s",
            rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
        )
        for log in (self.error_log, self.access_log):
            for handler in log.handlers:
                handler.setFormatter(formatter)

    def access(self, resp, req, environ, request_time):
        if LOG_FORMAT != "json":
            return super().access(resp, req, environ, request_time)
        if not self.access_log_enabled:
            return None
        status = resp.status
        if isinstance(status, str):
            status = status.split(None, 1)[0]
        headers = dict(resp.headers.items() if hasattr(resp.headers, "items") else resp.headers)
        request_id = next(
            (v for k, v in headers.items() if k.lower() == "x-request-id"),
            environ.get("HTTP_X_REQUEST_ID"),
        )
        self.access_log.info(
            "access",
            extra={
                "request_id": request_id,
                "remote_addr": environ.get("REMOTE_ADDR"),
                "method": environ.get("REQUEST_METHOD"),
                "path": environ.get("PATH_INFO"),
                "query": environ.get("QUERY_STRING") or None,
                "status": int(status) if str(status).isdigit() else status,
                "bytes": getattr(resp, "sent", None),
                "duration_ms": round(request_time.total_seconds() * 1000, 1),
                "user_agent": environ.get("HTTP_USER_AGENT"),
                "referer": environ.get("HTTP_REFERER"),
            },
        )
        return None


logger_class = JsonLogger
# Used when LOG_FORMAT=text: the combined format plus the request id and the time taken.
access_log_format = '%(h)s "%(r)s" %(s)s %(B)s "%(f)s" "%(a)s" %(M)sms id=%({x-request-id}o)s'


def pre_fork(server, worker):
    # With preload_app, a database connection opened in the master would be shared by every
    # forked worker and corrupt their sessions; close any before forking.
    from django.db import connections

    connections.close_all()
