"""Shared pieces of the benchmark scripts: databases, the running service, percentiles, memory."""
from __future__ import annotations

import contextlib
import os
import pathlib
import sys
import tempfile

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import sqlalchemy as sa  # noqa: E402

from service.storage.migrate import upgrade  # noqa: E402

# Production-like settings (the fault tests use shorter leases and timeouts).
PRODUCTION_ENV = {"JOB_LEASE_SECONDS": "120", "HTTP_TIMEOUT": "20", "JOB_BACKOFF_SECONDS": "15",
                  "WORKER_POLL_SECONDS": "1", "LOG_LEVEL": "WARNING"}
PG_ADMIN_URL = os.environ.get("BENCH_PG_ADMIN_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")


@contextlib.contextmanager
def fresh_database(kind: str):
    """A new, migrated database: a temp SQLite file, or a fresh PostgreSQL database."""
    if kind == "sqlite":
        path = pathlib.Path(tempfile.mkdtemp(prefix="cjbridge-bench-")) / "bench.sqlite3"
        url = f"sqlite:///{path}"
        upgrade(url)
        yield url
        return
    admin = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    name = "cjbridge_bench"
    with admin.connect() as conn:
        conn.execute(sa.text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        conn.execute(sa.text(f"CREATE DATABASE {name}"))
    url = admin.url.set(database=name).render_as_string(hide_password=False)
    upgrade(url)
    try:
        yield url
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        admin.dispose()


def percentile(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    k = min(len(ordered) - 1, max(0, round(p / 100 * (len(ordered) - 1))))
    return ordered[k]


def process_tree(pid: int) -> list[int]:
    """A process and its children (gunicorn's arbiter and its workers)."""
    pids = [pid]
    try:
        pids += [int(c) for c in pathlib.Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        pass
    return pids


def _stat(pid: int) -> list[str]:
    text = pathlib.Path(f"/proc/{pid}/stat").read_text()
    name = text[text.index("(") + 1:text.rindex(")")]
    return [name] + text.rsplit(")", 1)[1].split()


def postmaster_pids() -> list[int]:
    """The root process of each PostgreSQL server on this machine (the bench is meant to be alone)."""
    roots = []
    for entry in pathlib.Path("/proc").glob("[0-9]*"):
        try:
            name, _state, ppid = _stat(int(entry.name))[:3]
            if name == "postgres" and _stat(int(ppid))[0] != "postgres":
                roots.append(int(entry.name))
        except (OSError, ValueError, IndexError):
            continue
    return roots


def cpu_seconds(roots: list[int]) -> float:
    """CPU time (user + system, all threads) used so far by these processes and all their children,
    including children that have exited since (a gunicorn worker recycled, a database backend closed)."""
    ticks = 0
    for root in roots:
        for pid in process_tree(root):
            try:
                fields = _stat(pid)
                ticks += sum(int(f) for f in fields[12:16])  # utime, stime, cutime, cstime
            except (OSError, IndexError, ValueError):
                continue
    return ticks / os.sysconf("SC_CLK_TCK")


def peak_rss_mb(pid: int) -> float:
    """Peak resident memory (VmHWM) of a process and its children, in MiB."""
    total = 0
    for p in process_tree(pid):
        try:
            for line in pathlib.Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    total += int(line.split()[1])
        except OSError:
            continue
    return total / 1024
