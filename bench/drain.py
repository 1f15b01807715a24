#!/usr/bin/env python3
"""Drain benchmark: a burst of paid orders into running workers, against a CJ that enforces its QPS limit.

Usage: python bench/drain.py [--orders 2000] [--qps 20] [--db postgres|sqlite] [--workers 2] [--idle 20]
Prints: achieved CJ request rate / allowed rate, rate-limit errors, duplicates, end-to-end latency
percentiles (webhook ack → CJ create; CJ LOGISTIC webhook → Shopify fulfillment), idle latencies,
and peak RSS of the web and worker processes.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor

from common import PRODUCTION_ENV, ROOT, fresh_database, peak_rss_mb, percentile

sys.path.insert(0, str(ROOT))
import sqlalchemy as sa  # noqa: E402

from remote_cj import RemoteFakeCj  # noqa: E402
from tests.fault.fake_servers import FakeShopifyServer, ServerThread  # noqa: E402
from tests.fault.harness import Service, make_orders, signed, wait_until  # noqa: E402


def count_state(engine, state: str) -> int:
    with engine.connect() as conn:
        return conn.execute(sa.text("SELECT count(*) FROM orders WHERE state = :s"), {"s": state}).scalar()


def cj_order_number(store_id: int, body: dict) -> str:
    return f"CJB{store_id}-{body['id']}"


def run(args) -> None:
    cj = RemoteFakeCj(qps=args.qps)  # first, before this process has threads: the fake CJ has a process of its own
    shop = FakeShopifyServer()
    with ServerThread(shop.app) as shop_srv, fresh_database(args.db) as url:
        svc = Service(url, cj, cj.url, qps=args.qps, log_dir=pathlib_tmp(), extra_env=PRODUCTION_ENV)
        engine = sa.create_engine(url if not url.startswith("postgresql://") else
                                  url.replace("postgresql://", "postgresql+psycopg://", 1))
        svc.start_web()
        store_id = svc.setup_store(shop_srv.url)
        workers = [svc.start_worker() for _ in range(args.workers)]
        try:
            idle = idle_latencies(svc, cj, shop, store_id, args.idle)
            burst = burst_drain(svc, cj, shop, engine, store_id, args)
        finally:
            rss_web = peak_rss_mb(svc.web.pid)
            rss_workers = [peak_rss_mb(w.pid) for w in workers]
            svc.stop()
            engine.dispose()
            cj.close()
    print(f"drain benchmark: {args.orders} orders, CJ limit {args.qps} req/s (CJ_QPS={args.qps}), "
          f"{args.db}, {args.workers} worker process(es), CJ_AUTO_PAY on (freightCalculate, createOrderV2, "
          "confirmOrder, payBalance per order)")
    print(f"\nidle (one order at a time, {args.idle} orders):")
    print(f"  webhook ack → CJ create     p50 {idle['create_p50']:7.1f} ms   p90 {idle['create_p90']:7.1f} ms"
          "   (target p50 < 250 ms)")
    print(f"  CJ LOGISTIC → write-back    p50 {idle['write_p50']:7.1f} ms   p90 {idle['write_p90']:7.1f} ms"
          "   (target p50 < 250 ms)")
    b = burst
    print(f"\nburst of {args.orders}:")
    print(f"  CJ requests                 {b['cj_requests']} in {b['cj_seconds']:.1f} s = {b['cj_rate']:.2f} req/s "
          f"= {100 * b['cj_rate'] / args.qps:.1f} % of the allowed {args.qps} req/s (target ≥ 95 %)")
    print(f"  steady state (middle 60 %)  {b['steady_rate']:.2f} req/s = {100 * b['steady_rate'] / args.qps:.1f} %")
    print(f"  orders created at CJ        {b['created']} of {args.orders} ({b['orders_per_s']:.2f}/s), each once "
          f"({b['at_cj']} order numbers at CJ); rate-limit errors {b['rate_limited']} (target 0); "
          f"duplicate creates refused by CJ {b['duplicates_refused']}")
    print(f"  webhook ack → CJ create     p50 {b['create_p50']:9.0f} ms  p99 {b['create_p99']:9.0f} ms  "
          "(queueing behind the CJ limit)")
    print(f"  CJ LOGISTIC → write-back    p50 {b['write_p50']:9.0f} ms  p99 {b['write_p99']:9.0f} ms  "
          f"({b['written']} fulfillments, {b['fulfillment_dupes']} duplicates)")
    print(f"\npeak RSS: web (gunicorn, all processes) {rss_web:.0f} MiB; "
          f"worker(s) {', '.join(f'{r:.0f}' for r in rss_workers)} MiB")


def pathlib_tmp():
    import pathlib
    return pathlib.Path(tempfile.mkdtemp(prefix="cjbridge-drain-"))


def idle_latencies(svc, cj, shop, store_id, count) -> dict:
    creates, writes = [], []
    for body in make_orders(count, start=900_000):
        shop.announce(body)
        raw, headers = signed(body, "orders/paid")
        sent = time.time()
        assert svc.deliver(raw, headers) == 200
        acked = time.time()
        number = cj_order_number(store_id, body)
        wait_until(lambda: cj.order(number)["created_at"], timeout=30, interval=0.005, what="the CJ create")
        creates.append((cj.order(number)["created_at"] - acked) * 1000)  # the fake CJ's arrival time
        wait_until(lambda: cj.order(number)["status"] == "UNSHIPPED", timeout=30, interval=0.005,
                   what="payment")
        raw, headers = cj.logistic_message(cj.ship(number))
        assert svc.deliver(raw, headers, path=svc.cj_webhook_path) == 200
        acked = time.time()
        gid = body["admin_graphql_api_id"]
        wait_until(lambda: gid in shop.write_times, timeout=30, interval=0.002, what="the write-back")
        writes.append((shop.write_times[gid] - acked) * 1000)
        del sent
        time.sleep(0.3)  # idle between orders
    return {"create_p50": percentile(creates, 50), "create_p90": percentile(creates, 90),
            "write_p50": percentile(writes, 50), "write_p90": percentile(writes, 90)}


def burst_drain(svc, cj, shop, engine, store_id, args) -> dict:
    orders = make_orders(args.orders)
    for body in orders:
        shop.announce(body)
    first_request = len(cj.snapshot()["request_times"])
    acks = {}

    def send(body):
        raw, headers = signed(body, "orders/paid")
        assert svc.deliver(raw, headers) == 200
        acks[cj_order_number(store_id, body)] = time.time()

    paid_before = count_state(engine, "paid")
    with ThreadPoolExecutor(16) as pool:
        list(pool.map(send, orders))
    wait_until(lambda: count_state(engine, "paid") >= paid_before + len(orders), timeout=args.orders * 10 / args.qps + 120,
               interval=1.0, what="the burst to drain")
    at_cj = cj.snapshot()
    times = at_cj["request_times"][first_request:]
    created = [n for n in acks if n in at_cj["create_times"]]
    create_lat = [(at_cj["create_times"][n] - acks[n]) * 1000 for n in created]

    # Tracking for all of them, as CJ would send it.
    events = {}
    for body in orders:
        number = cj_order_number(store_id, body)
        raw, headers = cj.logistic_message(cj.ship(number))
        events[body["admin_graphql_api_id"]] = (raw, headers)
    acked = {}

    def post(item):
        gid, (raw, headers) = item
        assert svc.deliver(raw, headers, path=svc.cj_webhook_path) == 200
        acked[gid] = time.time()

    with ThreadPoolExecutor(16) as pool:
        list(pool.map(post, events.items()))
    wait_until(lambda: all(gid in shop.write_times for gid in events), timeout=600, interval=0.5,
               what="every write-back")
    write_lat = [(shop.write_times[g] - acked[g]) * 1000 for g in events]
    seconds = times[-1] - times[0] if len(times) > 1 else float("nan")
    # The middle 60 % of the requests, away from the burst's ramp-up and tail.
    lo, hi = int(len(times) * 0.2), int(len(times) * 0.8)
    steady = (hi - lo) / (times[hi] - times[lo]) if hi > lo + 1 else float("nan")
    return {"cj_requests": len(times), "cj_seconds": seconds, "cj_rate": (len(times) - 1) / seconds,
            "steady_rate": steady,
            "created": len(created), "orders_per_s": len(created) / seconds,
            "at_cj": sum(1 for n in acks if n in at_cj["create_times"]),
            "rate_limited": at_cj["rate_limited"], "duplicates_refused": at_cj["duplicates_refused"],
            "create_p50": percentile(create_lat, 50), "create_p99": percentile(create_lat, 99),
            "write_p50": percentile(write_lat, 50), "write_p99": percentile(write_lat, 99),
            "written": sum(len(shop.fulfillments[g]) for g in events),
            "fulfillment_dupes": sum(max(0, len(shop.fulfillments[g]) - 1) for g in events)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=2000)
    parser.add_argument("--qps", type=float, default=20.0)
    parser.add_argument("--db", choices=["postgres", "sqlite"], default="postgres")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--idle", type=int, default=20, help="orders sent one at a time for idle latency")
    args = parser.parse_args()
    if args.db == "sqlite":
        args.workers = 1  # the embedded default runs one worker
    run(args)


if __name__ == "__main__":
    main()
