"""What every bench module shares: figures, the run context, an HTTP load loop, the server."""

from __future__ import annotations

import os
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import httpx

BASE_DIR = Path(__file__).resolve().parent.parent
RESULTS_DIR = BASE_DIR / "bench" / "results"
# Overridable so that two checkouts on one server can bench at the same time.
BENCH_DATABASE = os.environ.get("BENCH_DATABASE_NAME") or "openrefusal_bench"


@dataclass
class Figure:
    """One measured figure beside its baseline from the same run.

    `higher_is_better` says how to read the ratio: for throughput a ratio of 0.5 means half the
    baseline's rate; for latency a ratio of 3 means three times the baseline's time.
    """

    area: str
    name: str
    value: float | None
    unit: str
    baseline_name: str = ""
    baseline_value: float | None = None
    higher_is_better: bool = True
    target: str = ""
    target_met: bool | None = None
    note: str = ""
    detail: dict[str, Any] = field(default_factory=dict)

    @property
    def ratio(self) -> float | None:
        if self.value is None or not self.baseline_value:
            return None
        return self.value / self.baseline_value

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "ratio": self.ratio}


@dataclass
class Context:
    """Handed to every module: where the server is, the database, and shared baselines."""

    base_url: str
    env: dict[str, str]
    quick: bool = False
    baselines: dict[str, Figure] = field(default_factory=dict)

    def baseline(self, key: str) -> Figure | None:
        return self.baselines.get(key)

    def scaled(self, full: int, quick: int) -> int:
        return quick if self.quick else full


# --- Timing ---------------------------------------------------------------------------------


def percentile(values: list[float], pct: float) -> float:
    """Nearest-rank percentile (no interpolation: every reported value was observed)."""
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(pct / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]


@dataclass
class LoadResult:
    path: str
    requests: int
    errors: int
    statuses: dict[int, int]
    seconds: float
    p50_ms: float
    p95_ms: float
    mean_ms: float

    @property
    def per_second(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0


def http_load(
    base_url: str,
    path: str,
    *,
    requests: int,
    concurrency: int = 4,
    warmup: int = 10,
    timeout: float = 30.0,
) -> LoadResult:
    """GET `path` `requests` times from `concurrency` threads with keep-alive connections.

    Bounded in count and time, aimed only at the loopback server the bench started.
    """
    if not base_url.startswith(("http://127.0.0.1:", "http://localhost:")):
        raise ValueError("the bench only sends traffic to its own loopback server")
    with httpx.Client(base_url=base_url, timeout=timeout) as client:
        for _ in range(warmup):
            client.get(path)

    latencies: list[float] = []
    statuses: dict[int, int] = {}
    errors = 0
    lock = threading.Lock()
    remaining = [requests]
    deadline = time.monotonic() + 120  # no figure may hold the run longer than this

    def worker() -> None:
        nonlocal errors
        with httpx.Client(base_url=base_url, timeout=timeout) as client:
            while True:
                with lock:
                    if remaining[0] <= 0 or time.monotonic() > deadline:
                        return
                    remaining[0] -= 1
                started = time.perf_counter()
                try:
                    response = client.get(path)
                    response.read()
                    status = response.status_code
                except httpx.HTTPError:
                    status = 0
                elapsed = (time.perf_counter() - started) * 1000
                with lock:
                    latencies.append(elapsed)
                    statuses[status] = statuses.get(status, 0) + 1
                    if status != 200:
                        errors += 1

    threads = [threading.Thread(target=worker) for _ in range(concurrency)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    seconds = time.perf_counter() - started
    return LoadResult(
        path=path,
        requests=len(latencies),
        errors=errors,
        statuses=statuses,
        seconds=seconds,
        p50_ms=percentile(latencies, 50),
        p95_ms=percentile(latencies, 95),
        mean_ms=statistics.fmean(latencies),
    )


def latency_figures(
    area: str,
    label: str,
    result: LoadResult,
    ctx: Context,
    *,
    target_p95_ms: float | None = None,
    target_text: str = "",
) -> list[Figure]:
    """p50, p95 and req/s of one endpoint, each beside the hello-world view's."""
    hello = {k: ctx.baseline(f"hello_{k}") for k in ("p50", "p95", "rps")}
    note = "" if not result.errors else f"{result.errors} non-200 answers: {result.statuses}"
    detail = {"path": result.path, "requests": result.requests, "statuses": result.statuses}
    p95 = Figure(
        area,
        f"{label} p95",
        result.p95_ms,
        "ms",
        "hello-world view p95",
        hello["p95"].value if hello["p95"] else None,
        higher_is_better=False,
        note=note,
        detail=detail,
    )
    if target_p95_ms is not None:
        p95.target = target_text or f"p95 < {target_p95_ms:g} ms"
        p95.target_met = result.p95_ms < target_p95_ms and not result.errors
    return [
        Figure(
            area,
            f"{label} p50",
            result.p50_ms,
            "ms",
            "hello-world view p50",
            hello["p50"].value if hello["p50"] else None,
            higher_is_better=False,
            note=note,
            detail=detail,
        ),
        p95,
        Figure(
            area,
            f"{label} throughput",
            result.per_second,
            "req/s",
            "hello-world view req/s",
            hello["rps"].value if hello["rps"] else None,
            note=note,
            detail=detail,
        ),
    ]


def cold_cache_figures(
    ctx: Context, area: str, name: str, path: str, *, requests: int
) -> list[Figure]:
    """`path` computed afresh: the shared cache emptied before each request, one at a time
    (what the first reader after a change waits), beside the hello-world p95. None without
    Redis: the server's cache is then its own process memory and cannot be emptied from here."""
    from django.core.cache import cache

    if not os.environ.get("REDIS_URL"):
        return []
    latencies = []
    with httpx.Client(base_url=ctx.base_url, timeout=30) as client:
        for _ in range(requests):
            cache.clear()
            started = time.perf_counter()
            status = client.get(path).status_code
            latencies.append((time.perf_counter() - started) * 1000)
            if status != 200:
                raise RuntimeError(f"GET {path} answered {status}")
    hello = ctx.baseline("hello_p95")
    return [
        Figure(
            area,
            name,
            percentile(latencies, 95),
            "ms",
            "hello-world view p95",
            hello.value if hello else None,
            higher_is_better=False,
            note=f"{requests} sequential requests, p50 {percentile(latencies, 50):.0f} ms",
        )
    ]


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    started = time.perf_counter()
    value = fn()
    return time.perf_counter() - started, value


# --- The server -----------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """The site under gunicorn with the repository's own config, on a free loopback port."""

    def __init__(self, env: dict[str, str], *, workers: int = 2, log_path: Path):
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.env = {
            **env,
            "BIND": f"127.0.0.1:{self.port}",
            "WEB_CONCURRENCY": str(workers),
        }
        self.log_path = log_path
        self.process: subprocess.Popen | None = None

    def __enter__(self) -> Server:
        gunicorn = Path(sys.executable).with_name("gunicorn")
        self._log = open(self.log_path, "wb")  # closed in __exit__
        self.process = subprocess.Popen(
            [
                str(gunicorn),
                "-c",
                str(BASE_DIR / "governance" / "gunicorn.conf.py"),
                "governance.wsgi",
            ],
            cwd=BASE_DIR,
            env=self.env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"gunicorn exited early; see {self.log_path}")
            try:
                if httpx.get(self.base_url + "/bench/hello", timeout=2).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.3)
        self.__exit__(None, None, None)
        raise RuntimeError(f"gunicorn did not answer within 60 s; see {self.log_path}")

    def __exit__(self, *exc) -> None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        self._log.close()
