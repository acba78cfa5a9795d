"""Helpers shared by the engine, inbox and timer benchmarks.

Each benchmark run works in a PostgreSQL schema of its own (``<script name>_<pid>``) inside the bench
database, so the scripts never touch each other's tables; the schema is created at the start
and dropped at the end. Results go into one section of bench/RESULTS.md per script, between
``<!-- NAME:start -->`` and ``<!-- NAME:end -->``; other sections are left as they are.
"""
from __future__ import annotations

import os
import platform
import subprocess
import re
import statistics
import time
from datetime import datetime, timezone
from importlib.metadata import version as package_version
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import make_url

from workflows.models import Base

BENCH = Path(__file__).resolve().parent
RESULTS = BENCH / "RESULTS.md"
DEFAULT_DATABASE_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/huifang_bench"


# ----------------------------------------------------------------------------- database
def ensure_database(url: str) -> None:
    """Create the bench database if it does not exist yet (connecting to 'postgres' for that)."""
    target = make_url(url)
    admin = sa.create_engine(target.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            exists = conn.scalar(sa.text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": target.database})
            if not exists:
                conn.execute(sa.text(f'CREATE DATABASE "{target.database}"'))
    finally:
        admin.dispose()


def create_database(url: str, name: str) -> str:
    """A fresh database ``name`` next to ``url``'s (dropped first if left over); returns its URL."""
    target = make_url(url).set(database=name)
    admin = sa.create_engine(target.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}"'))
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return target.render_as_string(hide_password=False)


def drop_database(url: str) -> None:
    target = make_url(url)
    admin = sa.create_engine(target.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{target.database}" WITH (FORCE)'))
    admin.dispose()


def bench_engine(url: str, schema: str, **kwargs) -> sa.Engine:
    """An SQLAlchemy engine on a fresh schema holding the workflow tables (dropped first if left over)."""
    ensure_database(url)
    db = sa.create_engine(url, connect_args={"options": f"-c search_path={schema}"}, **kwargs)
    with db.begin() as conn:
        conn.execute(sa.text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    Base.metadata.create_all(db)
    return db


def drop_schema(db: sa.Engine, schema: str) -> None:
    db.dispose()
    with db.begin() as conn:
        conn.execute(sa.text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
    db.dispose()


def machine_info(db: sa.Engine) -> dict:
    with db.connect() as conn:
        pg = conn.scalar(sa.text("SELECT version()"))
        settings = dict(conn.execute(sa.text(
            "SELECT name, setting FROM pg_settings WHERE name IN "
            "('shared_buffers', 'fsync', 'synchronous_commit', 'work_mem', 'jit')")).all())
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "commit": git_revision(),
        "load": os.getloadavg(),
        "nproc": os.cpu_count(),
        "cpu": cpu,
        "pg_version": pg.split(" on ")[0],
        "pg_settings": settings,
        "python": platform.python_version(),
        "spiffworkflow": package_version("SpiffWorkflow"),
        "sqlalchemy": package_version("SQLAlchemy"),
    }


def git_revision() -> str:
    """HEAD's short hash, marked '+dirty' when workflows/ has uncommitted changes."""
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=BENCH.parent, capture_output=True,
                              text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--", "workflows"], cwd=BENCH.parent,
                               capture_output=True, text=True, check=True).stdout.strip()
        return head + ("+dirty" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def settle(max_load: float = 1.5, timeout: float = 60.0) -> float:
    """Wait (at most ``timeout`` s) until the 1-minute load average is below ``max_load``.

    The machine may be shared (test suites of other work running); this keeps a benchmark
    phase from starting in the middle of someone else's burst. Returns the seconds waited.
    """
    waited = 0.0
    while os.getloadavg()[0] > max_load and waited < timeout:
        time.sleep(5)
        waited += 5
    return waited


def machine_lines(info: dict) -> list[str]:
    s = info["pg_settings"]
    load = ", ".join(f"{x:.2f}" for x in info["load"])
    end_load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    return [
        f"- Date: {info['date']}; code: `{info['commit']}`; load average at start {load}, at end {end_load}",
        f"- Machine: nproc = {info['nproc']} ({info['cpu']}); {info['pg_version']} "
        f"(fsync={s.get('fsync')}, synchronous_commit={s.get('synchronous_commit')}, "
        f"shared_buffers={int(s.get('shared_buffers', 0)) * 8 // 1024} MB, jit={s.get('jit')})",
        f"- Python {info['python']}, SpiffWorkflow {info['spiffworkflow']}, SQLAlchemy {info['sqlalchemy']}",
    ]


# ----------------------------------------------------------------------------- figures
def percentile(values, q: float) -> float | None:
    """Nearest-rank percentile (q in 0..100)."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, min(len(ordered), int(-(-q * len(ordered) // 100))))
    return ordered[rank - 1]


def summary_ms(seconds: list[float]) -> dict:
    """p50/p95/p99/max/mean of a list of durations in seconds, as milliseconds."""
    return {
        "n": len(seconds),
        "p50": percentile(seconds, 50) * 1000,
        "p95": percentile(seconds, 95) * 1000,
        "p99": percentile(seconds, 99) * 1000,
        "max": max(seconds) * 1000,
        "mean": statistics.fmean(seconds) * 1000,
    }


class Stopwatch:
    """Accumulates the wall time, and this process's CPU time, spent inside ``with watch:`` blocks."""

    def __init__(self):
        self.total = 0.0
        self.cpu = 0.0
        self.laps: list[float] = []

    def __enter__(self):
        self._start = time.perf_counter()
        self._cpu = time.process_time()
        return self

    def __exit__(self, *exc):
        lap = time.perf_counter() - self._start
        self.cpu += time.process_time() - self._cpu
        self.total += lap
        self.laps.append(lap)
        return False


def human_bytes(n: float) -> str:
    for unit in ("B", "kB", "MB", "GB"):
        if abs(n) < 1024 or unit == "GB":
            return f"{n:,.0f} {unit}" if unit == "B" else f"{n:,.1f} {unit}"
        n /= 1024
    return str(n)


# ----------------------------------------------------------------------------- RESULTS.md
def write_section(name: str, text: str) -> None:
    """Replace only the section ``name`` of RESULTS.md (re-read just before writing; atomic rename)."""
    start, end = f"<!-- {name}:start -->", f"<!-- {name}:end -->"
    section = f"{start}\n{text.rstrip()}\n{end}"
    current = RESULTS.read_text(encoding="utf-8") if RESULTS.exists() else "# Benchmark results\n"
    pattern = re.compile(re.escape(start) + r".*?" + re.escape(end), re.S)
    if pattern.search(current):
        updated = pattern.sub(lambda _: section, current, count=1)
    else:
        updated = current.rstrip("\n") + "\n\n" + section + "\n"
    tmp = RESULTS.with_suffix(f".md.tmp{os.getpid()}")
    tmp.write_text(updated, encoding="utf-8")
    os.replace(tmp, RESULTS)
