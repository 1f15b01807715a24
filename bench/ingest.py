#!/usr/bin/env python3
"""Ingest benchmark: webhook throughput of the service vs a bare Flask app under the same gunicorn.

Usage: python bench/ingest.py [--db sqlite|postgres|both] [--duration 10] [--connections 64] [--workers 0]
Needs wrk (Debian: apt-get install wrk). Prints req/s, p50/p99 latency, the ratio, and peak RSS.
The worker is not running: this measures the web process's verify → dedupe → store-and-enqueue path.
Each app gets a 2 s warm-up on the last quarter of the deliveries before the measured run.
Two diagnostic runs split the gap to bare Flask: bench/no_write_app.py replaces the database write with
a no-op (what the route costs), bench/write_only_app.py keeps the write and drops the route's own work
(what the write costs, and the most any route in front of it could reach).
"""
from __future__ import annotations

import argparse
import json
import os
import pathlib
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time

from common import PRODUCTION_ENV, ROOT, cpu_seconds, fresh_database, peak_rss_mb, postmaster_pids

sys.path.insert(0, str(ROOT))
from tests.fault.fake_servers import FakeCjServer  # noqa: E402
from tests.fault.harness import Service, make_orders, signed, wait_until  # noqa: E402

import requests  # noqa: E402


WARM_UP_SECONDS = 2


def write_deliveries(count: int, path: str) -> None:
    with open(path, "w") as out:
        for body in make_orders(count):
            raw, headers = signed(body, "orders/paid")
            out.write(f"{headers['X-Shopify-Webhook-Id']}\t{headers['X-Shopify-Hmac-Sha256']}\t{raw.decode()}\n")


def run_wrk(url: str, deliveries: str, *, duration: int, connections: int, threads: int, web_pid: int,
            offset: float = 0.0) -> dict:
    def wrk(seconds: float, start: float, *extra: str) -> list[str]:
        return ["wrk", "-t", str(threads), "-c", str(connections), "-d", f"{seconds}s", *extra,
                "-s", str(ROOT / "bench" / "ingest_wrk.lua"), url, "--", deliveries, str(threads), str(start)]

    # Warm-up, not measured: imports, first connections, SQL compile caches, the store lookup.
    subprocess.run(wrk(WARM_UP_SECONDS, 0.75), capture_output=True, check=True)
    web, db = [web_pid], postmaster_pids()
    web_cpu, db_cpu = cpu_seconds(web), cpu_seconds(db)
    wrk_cpu = _children_cpu()
    out = subprocess.run(wrk(duration, offset, "--latency"), capture_output=True, text=True, check=True).stdout
    web_cpu, db_cpu, wrk_cpu = cpu_seconds(web) - web_cpu, cpu_seconds(db) - db_cpu, _children_cpu() - wrk_cpu

    def ms(label):
        m = re.search(rf"^\s+{label}%\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
        value, unit = float(m.group(1)), m.group(2)
        return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = re.search(r"Socket errors: (.*)", out)
    requests_done = int(re.search(r"(\d+) requests in", out).group(1))
    per_request = 1000 / max(requests_done, 1)
    return {"rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)), "requests": requests_done,
            "cpu_ms_per_request": {"web": web_cpu * per_request, "database": db_cpu * per_request,
                                   "wrk": wrk_cpu * per_request},
            "p50_ms": ms("50"), "p99_ms": ms("99"), "non_2xx": int(non_2xx.group(1)) if non_2xx else 0,
            "socket_errors": errors.group(1) if errors else "none"}


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def gunicorn(env: dict, app: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "gunicorn", "--config", "service/gunicorn_conf.py",
                             "--access-logfile", "/dev/null", app], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def bench(kind: str, args, deliveries: str) -> dict:
    cj = FakeCjServer()

    def service_on(url: str) -> Service:
        return Service(url, cj, "http://127.0.0.1:9", qps=1, log_dir=pathlib.Path(tempfile.gettempdir()),
                       extra_env=PRODUCTION_ENV)

    def measure(svc: Service, app: str, what: str, *, up=None,
                register_store=False) -> tuple[subprocess.Popen, dict]:
        web = gunicorn(svc.env, app)
        wait_until(up or svc._healthy, timeout=30, what=what)
        if register_store:
            svc.setup_store("http://127.0.0.1:9")
        result = run_wrk(svc.base, deliveries, duration=args.duration, connections=args.connections,
                         threads=args.threads, web_pid=web.pid)
        result["rss_mb"] = peak_rss_mb(web.pid)
        return web, result

    def stop(web: subprocess.Popen) -> None:
        web.terminate()
        web.wait(20)

    with fresh_database(kind) as url:
        svc = service_on(url)
        # Baseline: the bare app on the same port settings, gunicorn config and load.
        bare, base = measure(svc, "bench.bare_app:app", "the bare app", up=lambda: _up(svc.base))
        stop(bare)

        svc.web, got = measure(svc, "service.wsgi:app", "the service", register_store=True)
        with_workers = None
        if args.workers:
            # The same service while worker processes take the queued events meanwhile (normalize, map,
            # store the order, build its CJ request), as in production. CJ dry-run: the request is recorded
            # and the order held, so no CJ throttle paces the workers here (bench/drain.py measures that).
            svc.env["CJ_DRY_RUN"] = "true"
            for _ in range(args.workers):
                svc.start_worker()
            with_workers = run_wrk(svc.base, deliveries, duration=args.duration, connections=args.connections,
                                   threads=args.threads, web_pid=svc.web.pid, offset=0.5)
        got.update(_counts(url, events_stored="SELECT count(*) FROM webhook_events",
                           jobs_queued="SELECT count(*) FROM jobs"))
        if with_workers:
            with_workers.update(_counts(url, orders_stored="SELECT count(*) FROM orders", events_handled=(
                "SELECT count(*) FROM jobs WHERE kind = 'process_event' AND status = 'done'")))
        svc.stop()

        # Diagnostic: the same service with the database write replaced by a no-op.
        no_write, diag = measure(svc, "bench.no_write_app:app", "the service without its write")
        stop(no_write)

    # Diagnostic: the write alone, on a fresh database (the deliveries above are on file already).
    with fresh_database(kind) as url:
        svc = service_on(url)
        svc.web, write_only = measure(svc, "bench.write_only_app:app", "the write-only service",
                                      register_store=True)
        write_only.update(_counts(url, events_stored="SELECT count(*) FROM webhook_events"))
        svc.stop()
    return {"bare": base, "service": got, "without_write": diag, "write_only": write_only,
            "with_workers": with_workers}


def _counts(url: str, **queries: str) -> dict:
    """Each query's single number, by name, read from the benchmark's database."""
    import sqlalchemy as sa
    engine = sa.create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1)
                              if url.startswith("postgresql://") else url)
    try:
        with engine.connect() as conn:
            return {name: conn.execute(sa.text(sql)).scalar() for name, sql in queries.items()}
    finally:
        engine.dispose()


def _up(base: str) -> bool:
    try:
        requests.post(f"{base}/webhooks/shopify", data=b"{}", timeout=1)
        return True
    except requests.RequestException:
        return False


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--workers", type=int, default=0,
                        help="also measure the service while this many worker processes run (not in the ratio)")
    # Enough that no measured run reaches the warm-up's deliveries (duplicates cost less to handle):
    # the warm-up takes the last quarter, so 45,000 stay new, 10 s at 4,500 req/s.
    parser.add_argument("--deliveries", type=int, default=60000,
                        help="distinct pre-signed deliveries; the last quarter is for the warm-up")
    args = parser.parse_args()
    if not shutil.which("wrk"):
        sys.exit("wrk is not installed (Debian: apt-get install wrk)")
    workdir = tempfile.mkdtemp(prefix="cjbridge-ingest-")
    deliveries = os.path.join(workdir, "deliveries.tsv")
    write_deliveries(args.deliveries, deliveries)
    print(f"ingest benchmark: {args.connections} connections, {args.duration} s per run, "
          f"{args.deliveries} distinct signed deliveries, gunicorn as in the Procfile "
          f"(service/gunicorn_conf.py), {os.cpu_count()} CPUs")
    results = {}
    for kind in (["sqlite", "postgres"] if args.db == "both" else [args.db]):
        r = bench(kind, args, deliveries)
        results[kind] = r
        b, s = r["bare"], r["service"]
        print(f"\n[{kind}]")
        print(f"  bare Flask : {b['rps']:8.0f} req/s  p50 {b['p50_ms']:6.1f} ms  p99 {b['p99_ms']:6.1f} ms  "
              f"peak RSS {b['rss_mb']:.0f} MiB")
        print(f"  CJ Bridge  : {s['rps']:8.0f} req/s  p50 {s['p50_ms']:6.1f} ms  p99 {s['p99_ms']:6.1f} ms  "
              f"peak RSS {s['rss_mb']:.0f} MiB  non-2xx {s['non_2xx']}  socket errors {s['socket_errors']}")
        d, o, w = r["without_write"], r["write_only"], r["with_workers"]
        print(f"  ratio      : {s['rps'] / b['rps']:.2f} × bare req/s (target ≥ 0.60; p99 target < 50 ms)")
        print(f"  diagnostic : CJ Bridge with its database write replaced by a no-op: {d['rps']:.0f} req/s "
              f"= {d['rps'] / b['rps']:.2f} × bare, p50 {d['p50_ms']:.1f} ms, p99 {d['p99_ms']:.1f} ms")
        print(f"  diagnostic : the write alone, without the route's own work: {o['rps']:.0f} req/s "
              f"= {o['rps'] / b['rps']:.2f} × bare, p50 {o['p50_ms']:.1f} ms, p99 {o['p99_ms']:.1f} ms, "
              f"non-2xx {o['non_2xx']}, {o['events_stored']} events stored")
        for name, run in (("bare", b), ("service", s), ("no write", d), ("write only", o)):
            cpu = run["cpu_ms_per_request"]
            print(f"  CPU/request ({name:10s}): web {cpu['web']:.2f} ms, database {cpu['database']:.2f} ms, "
                  f"wrk {cpu['wrk']:.2f} ms")
        if w:
            print(f"  + workers  : CJ Bridge while {args.workers} worker process(es) take the queued events: "
                  f"{w['rps']:.0f} req/s = {w['rps'] / b['rps']:.2f} × bare, p50 {w['p50_ms']:.1f} ms, "
                  f"p99 {w['p99_ms']:.1f} ms, non-2xx {w['non_2xx']}; by the end {w['events_handled']} events handled, "
                  f"{w['orders_stored']} orders stored")
        print(f"  stored     : {s['events_stored']} events, {s['jobs_queued']} jobs "
              f"(requests beyond {args.deliveries} repeat earlier deliveries and are deduplicated)")
    time.sleep(0.1)
    print("\n" + json.dumps(results))


if __name__ == "__main__":
    main()
