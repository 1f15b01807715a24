#!/usr/bin/env python3
"""Drain benchmark: a burst of paid orders into running workers, against a CJ that enforces its QPS limit.

Usage: python bench/drain.py [--orders 2000] [--qps 20] [--db postgres|sqlite] [--workers 2] [--idle 20]
                             [--rule single|capped]
The orders mix 10 products over 5 destination countries (mostly one unit of one product, as a flash sale
looks). --rule single: one allowed method and no cost cap (nothing to quote); capped: three methods under a
cap (quotes, from the freight cache). Prints: CJ calls and points per order, orders per hour against
0.95 × QPS × 3,600, achieved CJ request rate / allowed rate, rate-limit errors, duplicates and double
payments, end-to-end latency percentiles (webhook ack → CJ create; CJ LOGISTIC webhook → Shopify
fulfillment), idle latencies, and peak RSS of the web and worker processes.
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor

from common import PRODUCTION_ENV, ROOT, cpu_seconds, fresh_database, peak_rss_mb, percentile, postmaster_pids

sys.path.insert(0, str(ROOT))
import sqlalchemy as sa  # noqa: E402

from remote_cj import RemoteFakeCj  # noqa: E402
from tests.fault.fake_servers import FakeShopifyServer, ServerThread  # noqa: E402
from tests.fault.harness import Service, make_orders, signed, wait_until  # noqa: E402


def count_state(engine, state: str) -> int:
    with engine.connect() as conn:
        return conn.execute(sa.text("SELECT count(*) FROM orders WHERE state = :s"), {"s": state}).scalar()


PRODUCTS = [(f"BENCH-P{k}", f"bench-vid-{k}") for k in range(10)]
COUNTRIES = [("US", "United States", "OR", "97477"), ("GB", "United Kingdom", "", "SW1A 1AA"),
             ("DE", "Germany", "", "04109"), ("FR", "France", "", "75001"), ("CA", "Canada", "ON", "M5V 2T6")]
POINT_COSTS = {"freightCalculate": 10, "queryByVid": 10, "query": 10}  # per CJ operation (cj-api.md §2)


def mixed_orders(n: int, *, start: int = 1) -> list[dict]:
    """Orders of the sample's shape over 10 products and 5 countries: 90 % one unit of one product, 7 % two
    units, 3 % two different products (deterministic)."""
    import random
    rng = random.Random(start)
    orders = make_orders(n, start=start)
    for body in orders:
        template = body["line_items"][0]
        roll = rng.random()
        picks = [(rng.choice(PRODUCTS), 1)] if roll < 0.90 else [(rng.choice(PRODUCTS), 2)] if roll < 0.97 \
            else [(p, 1) for p in rng.sample(PRODUCTS, 2)]
        body["line_items"] = [dict(template, id=body["id"] * 10 + j, sku=sku, variant_id=9_000 + j,
                                   admin_graphql_api_id=f"gid://shopify/LineItem/{body['id'] * 10 + j}",
                                   quantity=qty, current_quantity=qty)
                              for j, ((sku, _vid), qty) in enumerate(picks)]
        code, name, province, zip_code = rng.choice(COUNTRIES)
        body["shipping_address"] = dict(body["shipping_address"], country_code=code, country=name,
                                        province_code=province, province=province or None, zip=zip_code)
    return orders


def cj_order_number(prefix: str | None, store_id: int, body: dict) -> str:
    return f"CJB{prefix}-{store_id}-{body['id']}" if prefix else f"CJB{store_id}-{body['id']}"


def setup_catalog(svc, store_id: int, rule: str) -> None:
    svc.admin("PUT", "/sku-mappings", json=[{"store_id": store_id, "store_sku": sku, "cj_vid": vid}
                                             for sku, vid in PRODUCTS])
    if rule == "capped":
        svc.admin("PUT", "/shipping-rules", json={"country_code": "*", "max_shipping_cost": "30",
                                                   "logistic_names": ["CJPacket Ordinary", "USPS+", "DHL Official"]})


def run(args) -> None:
    cj = RemoteFakeCj(qps=args.qps)  # first, before this process has threads: the fake CJ has a process of its own
    shop = FakeShopifyServer()
    with ServerThread(shop.app) as shop_srv, fresh_database(args.db) as url:
        svc = Service(url, cj, cj.url, qps=args.qps, log_dir=pathlib_tmp(), extra_env=PRODUCTION_ENV)
        engine = sa.create_engine(url if not url.startswith("postgresql://") else
                                  url.replace("postgresql://", "postgresql+psycopg://", 1))
        svc.start_web()
        store_id = svc.setup_store(shop_srv.url)
        setup_catalog(svc, store_id, args.rule)
        with engine.connect() as conn:
            args.prefix = conn.execute(sa.text("SELECT order_number_prefix FROM cj_account_state")).scalar()
        workers = [svc.start_worker() for _ in range(args.workers)]
        try:
            idle = idle_latencies(svc, cj, shop, store_id, args.idle, args.prefix)
            burst = burst_drain(svc, cj, shop, engine, store_id, args)
        finally:
            rss_web = peak_rss_mb(svc.web.pid)
            rss_workers = [peak_rss_mb(w.pid) for w in workers]
            svc.stop()
            engine.dispose()
            cj.close()
    print(f"drain benchmark: {args.orders} orders (10 products, 5 countries), CJ limit {args.qps} req/s "
          f"(CJ_QPS={args.qps}), {args.db}, {args.workers} worker process(es), CJ_AUTO_PAY on, rule {args.rule!r}")
    print(f"\nidle (one order at a time, {args.idle} orders):")
    print(f"  webhook ack → CJ create     p50 {idle['create_p50']:7.1f} ms   p90 {idle['create_p90']:7.1f} ms"
          "   (target p50 < 250 ms)")
    print(f"  CJ LOGISTIC → write-back    p50 {idle['write_p50']:7.1f} ms   p90 {idle['write_p90']:7.1f} ms"
          "   (target p50 < 250 ms)")
    b = burst
    target = 0.95 * args.qps * 3600
    print(f"\nburst of {args.orders}:")
    print(f"  CJ calls per order          {b['calls_per_order']:.3f} (target ≤ 1.1): "
          + ", ".join(f"{op} {n}" for op, n in sorted(b['forward_ops'].items())))
    print(f"  CJ points per order         {b['points_per_order']:.2f}")
    print(f"  orders per hour             {b['orders_per_hour']:,.0f} = {b['orders_per_hour'] / target:.3f} × "
          f"0.95 × QPS × 3,600 ({target:,.0f}; target ≥ 1)")
    print(f"  payments                    {b['paid_in_create']} in the create call, {b['payments']} by payBalance; "
          f"double payments {b['double_payments']} (target 0)")
    print("  CPU per order (ms)          " + ", ".join(f"{name} {ms:.1f}" for name, ms in b["cpu_ms"].items())
          + f"; all {sum(b['cpu_ms'].values()):.1f} ({os.cpu_count()} CPUs)")
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


def idle_latencies(svc, cj, shop, store_id, count, prefix) -> dict:
    creates, writes = [], []
    for body in mixed_orders(count, start=900_000):
        shop.announce(body)
        raw, headers = signed(body, "orders/paid")
        sent = time.time()
        assert svc.deliver(raw, headers) == 200
        acked = time.time()
        number = cj_order_number(prefix, store_id, body)
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
    orders = mixed_orders(args.orders)
    for body in orders:
        shop.announce(body)
    before = cj.snapshot()
    first_request = len(before["request_times"])
    acks = {}

    def send(body):
        raw, headers = signed(body, "orders/paid")
        assert svc.deliver(raw, headers) == 200
        acks[cj_order_number(args.prefix, store_id, body)] = time.time()

    paid_before = count_state(engine, "paid")
    groups = {"web": [svc.web.pid], "workers": [w.pid for w in svc.workers], "database": postmaster_pids(),
              "fake CJ": [cj.process.pid]}
    cpu_before = {name: cpu_seconds(pids) for name, pids in groups.items()}
    with ThreadPoolExecutor(16) as pool:
        list(pool.map(send, orders))
    wait_until(lambda: count_state(engine, "paid") >= paid_before + len(orders), timeout=args.orders * 10 / args.qps + 120,
               interval=1.0, what="the burst to drain")
    cpu_ms = {name: (cpu_seconds(pids) - cpu_before[name]) * 1000 / len(orders) for name, pids in groups.items()}
    at_cj = cj.snapshot()
    times = at_cj["request_times"][first_request:]
    created = [n for n in acks if n in at_cj["create_times"]]
    create_lat = [(at_cj["create_times"][n] - acks[n]) * 1000 for n in created]
    forward_ops = {op: n - before["op_counts"].get(op, 0) for op, n in at_cj["op_counts"].items()
                   if n - before["op_counts"].get(op, 0) and op not in ("getAccessToken", "refreshAccessToken")}
    forwarded = sum(forward_ops.values())
    points = sum(POINT_COSTS.get(op, 0) * n for op, n in forward_ops.items())
    paid_in_create = at_cj["paid_in_create"] - before["paid_in_create"]
    payments = at_cj["payments"] - before["payments"]

    # Tracking for all of them, as CJ would send it.
    events = {}
    for body in orders:
        number = cj_order_number(args.prefix, store_id, body)
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
            "steady_rate": steady, "forward_ops": forward_ops, "calls_per_order": forwarded / len(orders),
            "points_per_order": points / len(orders), "orders_per_hour": len(created) / seconds * 3600,
            "paid_in_create": paid_in_create, "payments": payments, "cpu_ms": cpu_ms,
            "double_payments": max(0, paid_in_create + payments - len(created)),
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
    parser.add_argument("--rule", choices=["single", "capped"], default="single",
                        help="single: one method, no cap (no quote needed); capped: three methods under a cap")
    args = parser.parse_args()
    if args.db == "sqlite":
        args.workers = 1  # the embedded default runs one worker
    run(args)


if __name__ == "__main__":
    main()
