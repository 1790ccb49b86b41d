"""Shared helpers for the benchmark scripts under bench/ (issue 7). Keep this API small.

A bench script is run from the repository root, either as ``python -m bench.<name> [args]`` (what
``make bench`` / bench/run_all.py does) or as ``python bench/<name>.py [args]``; for the latter start
the script with::

    import sys, pathlib; sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent))

then::

    from bench.common import setup_django
    setup_django()                      # before importing models; sets DJANGO_SETTINGS_MODULE
    from bench.common import (Timer, measure, summary, count_queries, peak_memory_mb,
                              ensure_dataset, markdown_table, append_section)

API:

* ``setup_django(settings="mehr_site.settings")`` — configure and set up Django once.
* ``Timer()`` — ``with Timer() as t: ...``; then ``t.seconds``.
* ``measure(fn, repeat=30, warmup=3) -> list[float]`` — seconds per call of ``fn()``.
* ``percentile(values, p)`` — linear interpolation (numpy's default), p in 0..100.
* ``summary(seconds) -> dict`` — n, mean/min/p50/p95/p99/max in **milliseconds**.
* ``count_queries(using="default")`` — ``with count_queries() as q: ...``; then ``q.count``,
  ``q.queries`` (list of SQL); counts queries of this process's Django connection.
* ``peak_memory_mb(children=False) -> float`` — peak RSS of this process (or of its waited-for children).
* ``ensure_dataset(installations=, cases=, session_attempts=0, users=8, seed=1) -> bool`` — makes the
  database hold exactly that generated dataset (``manage.py generate_dataset``), regenerating only
  when the counts differ; returns True when it generated. Use it so every benchmark starts from the
  same reproducible data.
* ``machine_info() -> dict`` — cores, memory, CPU model, load average, PostgreSQL/Redis/Python/Django
  versions, git commit.
* ``markdown_table(rows: list[dict]) -> str`` — a Markdown table (columns from the first row).
* ``append_section(title, body, command=None, path=None) -> str`` — append a dated ``## title``
  section with the machine info and the reproducing command (default: this process's command line)
  to docs/PERFORMANCE.md (file-locked, safe with parallel scripts). Set ``MEHR_BENCH_RECORD=0`` to
  print only. Returns the Markdown it wrote.

Rule of the house: every figure is compared with a baseline measured *in the same run* (raw COPY,
a bare Celery no-op task, a bare Django view ...), because this machine is shared and noisy.
"""

from __future__ import annotations

import fcntl
import os
import platform
import re
import resource
import shlex
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
PERFORMANCE_MD = ROOT / "docs" / "PERFORMANCE.md"

if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

_django_ready = False


def setup_django(settings: str = "mehr_site.settings") -> None:
    global _django_ready
    if _django_ready:
        return
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", settings)
    import django

    django.setup()
    _django_ready = True


class Timer:
    """``with Timer() as t: ...`` then ``t.seconds`` (perf_counter)."""

    def __init__(self) -> None:
        self.start = 0.0
        self.seconds = 0.0

    def __enter__(self) -> Timer:
        self.start = time.perf_counter()
        return self

    def __exit__(self, *exc: object) -> None:
        self.seconds = time.perf_counter() - self.start


def measure(fn: Callable[[], Any], repeat: int = 30, warmup: int = 3) -> list[float]:
    for _ in range(warmup):
        fn()
    out = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t0)
    return out


def percentile(values: Sequence[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    k = (len(ordered) - 1) * p / 100
    lo = int(k)
    hi = min(lo + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def summary(seconds: Sequence[float]) -> dict[str, float]:
    """n and mean/min/p50/p95/p99/max in milliseconds."""
    ms = [s * 1000 for s in seconds]
    return {
        "n": len(ms),
        "mean_ms": sum(ms) / len(ms) if ms else float("nan"),
        "min_ms": min(ms) if ms else float("nan"),
        "p50_ms": percentile(ms, 50),
        "p95_ms": percentile(ms, 95),
        "p99_ms": percentile(ms, 99),
        "max_ms": max(ms) if ms else float("nan"),
    }


class _Queries:
    def __init__(self) -> None:
        self.queries: list[str] = []

    @property
    def count(self) -> int:
        return len(self.queries)


@contextmanager
def count_queries(using: str = "default") -> Iterator[_Queries]:
    from django.db import connections
    from django.test.utils import CaptureQueriesContext

    result = _Queries()
    with CaptureQueriesContext(connections[using]) as ctx:
        yield result
        # Filled while the block runs; copied on exit.
    result.queries = [q["sql"] for q in ctx.captured_queries]


def peak_memory_mb(children: bool = False) -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN if children else resource.RUSAGE_SELF)
    return usage.ru_maxrss / 1024  # KiB on Linux


def add_dataset_arguments(
    parser: Any, *, installations: int = 1_000_000, cases: int = 1_000_000, session_attempts: int = 2_000_000,
    users: int = 8,
) -> None:
    """--installations, --cases, --session-attempts, --users: the generated dataset a benchmark needs
    (the 1M dataset of docs/PERFORMANCE.md by default), for ensure_dataset."""
    parser.add_argument("--installations", type=int, default=installations)
    parser.add_argument("--cases", type=int, default=cases)
    parser.add_argument("--session-attempts", type=int, default=session_attempts)
    parser.add_argument("--users", type=int, default=users)


def ensure_dataset(
    *, installations: int, cases: int, session_attempts: int = 0, users: int = 8, seed: int = 1
) -> bool:
    """Make the database hold exactly this generated dataset; True when it had to generate it."""
    setup_django()
    from cases.dataset import DatasetSpec, current_counts, generate_dataset

    want = {"installations": installations, "cases": cases, "session_attempts": session_attempts}
    have = current_counts()
    if all(have.get(k, 0) == v for k, v in want.items()) and have.get("users", 0) == users:
        return False
    spec = DatasetSpec(installations=installations, cases=cases, session_attempts=session_attempts,
                       users=users, seed=seed)  # fmt: skip
    print(f"bench: generating dataset {want} (seed {seed}) ...", flush=True)
    with Timer() as t:
        result = generate_dataset(spec, truncate=True)
    print(f"bench: {result.total_rows:,} rows in {t.seconds:.0f} s", flush=True)
    return True


def _read(path: str) -> str:
    try:
        return Path(path).read_text()
    except OSError:
        return ""


def machine_info() -> dict[str, str]:
    info: dict[str, str] = {}
    info["cores"] = str(os.cpu_count())
    mem = re.search(r"MemTotal:\s+(\d+) kB", _read("/proc/meminfo"))
    info["memory"] = f"{int(mem.group(1)) / 1024 / 1024:.1f} GiB" if mem else "?"
    cpu = re.search(r"model name\s*:\s*(.+)", _read("/proc/cpuinfo"))
    info["cpu"] = cpu.group(1).strip() if cpu else platform.processor() or "?"
    with suppress(OSError):
        info["load average"] = " ".join(f"{x:.2f}" for x in os.getloadavg())
    info["python"] = platform.python_version()
    try:
        import django

        info["django"] = django.get_version()
    except ImportError:
        pass
    if _django_ready:
        from django.db import connection

        try:
            with connection.cursor() as cur:
                if connection.vendor == "postgresql":
                    cur.execute("SHOW server_version")
                    info["postgresql"] = cur.fetchone()[0].split()[0]
                else:
                    info["database"] = connection.vendor
        except Exception as exc:  # the benchmark may have broken the connection on purpose
            info["database"] = f"unavailable ({exc.__class__.__name__})"
        from django.conf import settings

        if getattr(settings, "REDIS_URL", ""):
            try:
                import redis

                client = redis.Redis.from_url(settings.REDIS_URL, socket_timeout=2)
                info["redis"] = client.info("server")["redis_version"]
                client.close()
            except Exception:
                info["redis"] = "unavailable"
    with suppress(OSError, subprocess.SubprocessError):
        info["commit"] = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True, timeout=5
        ).stdout.strip()
    return info


def command_line() -> str:
    """How this process was started, from the repository root (no credentials)."""
    argv = list(sys.argv)
    main = sys.modules.get("__main__")
    spec = getattr(main, "__spec__", None)
    if spec is not None and spec.name and not spec.name.endswith("__main__"):
        argv = ["-m", spec.name, *argv[1:]]
    elif argv and argv[0].endswith(".py"):
        with suppress(ValueError):
            argv[0] = str(Path(argv[0]).resolve().relative_to(ROOT))
    env = []
    for name in ("DATABASE_URL", "REDIS_URL"):
        if os.environ.get(name):
            value = re.sub(r"://([^:@/]+):[^@/]+@", r"://\1:***@", os.environ[name])
            env.append(f"{name}={value}")
    return shlex.join(["python", *argv]) if not env else " ".join(env) + " " + shlex.join([".venv/bin/python", *argv])


def markdown_table(rows: Sequence[dict[str, Any]]) -> str:
    if not rows:
        return "_(no rows)_"
    columns = list(rows[0])
    for row in rows[1:]:
        columns += [c for c in row if c not in columns]

    def cell(v: Any) -> str:
        if isinstance(v, float):
            return f"{v:,.1f}" if abs(v) >= 100 else f"{v:.3g}" if abs(v) < 1 else f"{v:.2f}"
        if isinstance(v, int):
            return f"{v:,}"
        return str(v if v is not None else "")

    lines = ["| " + " | ".join(columns) + " |", "|" + "|".join("---" for _ in columns) + "|"]
    lines += ["| " + " | ".join(cell(r.get(c)) for c in columns) + " |" for r in rows]
    return "\n".join(lines)


def append_section(title: str, body: str, command: str | None = None, path: Path | None = None) -> str:
    """Append a dated section (machine, command, body) to docs/PERFORMANCE.md and print it."""
    path = path or PERFORMANCE_MD
    now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    machine = ", ".join(f"{k} {v}" for k, v in machine_info().items())
    text = (
        f"\n## {title} ({now})\n\n"
        f"Machine: {machine}.\n\n"
        f"Command: `{command or command_line()}`\n\n"
        f"{body.strip()}\n"
    )
    print(text, flush=True)
    if os.environ.get("MEHR_BENCH_RECORD", "1").strip().lower() in {"0", "false", "no"}:
        return text
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+", encoding="utf-8") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            fh.seek(0)
            if not fh.read(1):
                fh.write("# Performance\n\nFigures appended by the scripts under bench/ (`make bench`).\n")
            fh.seek(0, os.SEEK_END)
            fh.write(text)
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)
    return text
