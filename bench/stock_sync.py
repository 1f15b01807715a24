#!/usr/bin/env python3
"""Stock sync benchmark: the poll's CJ points a day and how long a lost stock message can go uncorrected,
store API calls per 100 stock changes, and the time from a CJ STOCK message to the store write.

Usage: python bench/stock_sync.py [--db sqlite|postgres] [--variants 1000 10000] [--points 50000] [--share 0.2]
In process, against mocked CJ, Shopify, WooCommerce, eBay and TikTok Shop APIs (tests/fakes.py, through `responses`): the figures
count calls and points and time our own work; they leave out the network and the worker's pickup of a new job.
"""
from __future__ import annotations

import argparse
import sys
import time
from datetime import datetime, timedelta

from common import ROOT, fresh_database, percentile

sys.path.insert(0, str(ROOT))
import responses  # noqa: E402
from sqlalchemy import func, insert, select  # noqa: E402

from service.app import create_app  # noqa: E402
from service.jobs.worker import drain  # noqa: E402
from service.pipeline import stock_sync  # noqa: E402
from service.storage.database import make_engine, make_session_factory  # noqa: E402
from service.storage.models import SkuMapping, Store  # noqa: E402
from tests.conftest import CJ_BASE, TEST_SECRET_KEY, compact, cj_webhook_path, sign, CJ_OPEN_ID  # noqa: E402
from tests.fakes import TIKTOK_API, FakeCj, FakeEbay, FakeShopify, FakeTikTok, FakeWoo  # noqa: E402

START = datetime(2026, 12, 1, 0, 0)


def make_app(url: str, **env):
    base = {"DATABASE_URL": url, "SECRET_KEY": TEST_SECRET_KEY, "ADMIN_TOKEN": "bench-admin-token",
            "CJ_API_KEY": "CJ1234567@api@0f1e2d3c4b5a69788796a5b4c3d2e1f0", "CJ_DRY_RUN": "false",
            "CJ_API_BASE_URL": CJ_BASE, "CJ_QPS": "100000", "LOG_LEVEL": "ERROR",
            "PUBLIC_BASE_URL": "https://bridge.example.com"}
    factory = make_session_factory(make_engine(url))
    app = create_app({"TESTING": True, "ENV": dict(base, **env), "SESSION_FACTORY": factory})
    runtime = app.extensions["cj_bridge"]
    runtime.cj._sleep = lambda _s: None
    return app, runtime, factory


CREDENTIALS = {
    "shopify": {"access_token": "shpat_EXAMPLE_NOT_REAL"},
    "woocommerce": {"consumer_key": "ck_test", "consumer_secret": "cs_test"},
    "ebay": {"client_id": "Bench-PRD-0000", "client_secret": "PRD-0000", "refresh_token": "v^1.1#i^1#BENCH"},
    "tiktok_shop": {"client_id": "6test0appkey0abc", "client_secret": "testsecret0000000000000000000000NOTREAL",
                    "refresh_token": "TTP_bench", "shop_cipher": "ROW_bench"},
}
API_BASE = {"woocommerce": "https://shop.example.com", "tiktok_shop": TIKTOK_API}


def add_store(factory, platform: str, domain: str, runtime) -> int:
    with factory() as s:
        store = Store(platform=platform, domain=domain, webhook_secret_enc=runtime.box.seal("s" * 16),
                      credentials_enc=runtime.box.seal_json(CREDENTIALS[platform]), active=True,
                      api_base_url=API_BASE.get(platform))
        s.add(store)
        s.commit()
        return store.id


def poll_figures(db: str, variants: int, points: int, share: float) -> dict:
    """Two simulated days of the poll (every STOCK_POLL_MINUTES) over `variants` mapped variants in steady state
    (CJ's stock unchanged, so nothing is written): points spent on day 2, variants read, the re-read interval."""
    with fresh_database(db) as url, responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        app, runtime, factory = make_app(url, CJ_DAILY_POINTS=str(points), STOCK_POLL_POINTS_SHARE=str(share))
        cj = FakeCj(rsps)
        store_id = add_store(factory, "shopify", "bench-shop.myshopify.com", runtime)
        spread = max(7, round(7 * variants * 10 / (points * share)))  # stock_sync.price_read_every, in days
        with factory() as s:
            s.execute(insert(SkuMapping), [
                {"store_id": store_id, "store_variant_id": str(10_000_000 + n), "cj_vid": f"bench-vid-{n}",
                 "cj_pid": f"bench-pid-{n // 5}", "source": "admin", "cj_stock": 5000, "want_quantity": 5000,
                 "store_quantity": 5000, "cj_stock_at": START - timedelta(days=30) + timedelta(seconds=n),
                 # Steady state: a price is read on every seventh poll read of a variant (its price-read
                 # interval is seven poll turns, or a week): one in seven is due.
                 "cj_facts_at": START - timedelta(days=spread + 1 if n % 7 == 0 else 0, hours=1),
                 "created_at": START, "updated_at": START, "store_stock_ref": {}} for n in range(variants)])
            s.commit()
        clock = {"now": START}
        stock_sync.utcnow = lambda: clock["now"]
        step = timedelta(minutes=runtime.settings.stock_poll_minutes)
        day_two_calls = None
        while clock["now"] < START + timedelta(days=2):
            if day_two_calls is None and clock["now"] >= START + timedelta(days=1):
                day_two_calls = len(cj.ops("stockQueryByVid"))
                day_two_variant_reads = len(cj.ops("variantQueryByVid"))
            with factory() as s:
                stock_sync.poll_cj_stock(s, runtime=runtime)
                s.commit()
            drain(runtime)
            clock["now"] += step
        reads_day_two = len(cj.ops("stockQueryByVid")) - day_two_calls
        price_reads_day_two = len(cj.ops("variantQueryByVid")) - day_two_variant_reads
        with factory() as s:
            distinct = s.scalar(select(func.count(func.distinct(SkuMapping.cj_vid))).where(
                SkuMapping.cj_stock_at >= START + timedelta(days=1)))
        per_day = max(1, reads_day_two)
        return {"variants": variants, "points_day": (reads_day_two + price_reads_day_two) * 10,
                "share_points": int(points * share), "price_reads_day": price_reads_day_two,
                "reads_day": reads_day_two, "distinct_read_day2": distinct,
                "reread_hours": round(24 * variants / per_day, 1)}


def store_calls_per_100_changes(db: str) -> dict:
    """100 mapped variants in a Shopify, a WooCommerce, an eBay and a TikTok Shop store whose CJ stock changes,
    twice. WooCommerce's are variations of one product; TikTok's are 20 products of 5 SKUs each."""
    with fresh_database(db) as url, responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        app, runtime, factory = make_app(url)
        cj = FakeCj(rsps)
        shop = FakeShopify(rsps)
        woo = FakeWoo(rsps)
        ebay = FakeEbay(rsps, orders=[])
        tiktok = FakeTikTok(rsps)
        shop_id = add_store(factory, "shopify", "acme-gadgets-demo.myshopify.com", runtime)
        woo_id = add_store(factory, "woocommerce", "shop.example.com", runtime)
        ebay_id = add_store(factory, "ebay", "bench_seller", runtime)
        tiktok_id = add_store(factory, "tiktok_shop", "7495123456789012345", runtime)
        woo.products = {5000: {"id": 5000, "type": "variable", "parent_id": 0, "manage_stock": False}}
        rows = []
        for n in range(100):
            shop.add_variant(str(20_000_000 + n), item=30_000 + n, levels={1: 100})
            woo.products[5001 + n] = {"id": 5001 + n, "type": "variation", "parent_id": 5000, "manage_stock": True,
                                      "stock_quantity": 100}
            ebay.inventory[f"EBAY-SKU-{n}"] = {"quantity": 100, "offers": []}
            tiktok.add_sku(str(1_729_000_000_000 + n), product_id=str(1_728_000_000_000 + n // 5),
                           warehouses={"7068517275539719942": 100})
            for store_id, variant, sku in ((shop_id, str(20_000_000 + n), None), (woo_id, str(5001 + n), None),
                                           (ebay_id, None, f"EBAY-SKU-{n}"),
                                           (tiktok_id, str(1_729_000_000_000 + n), None)):
                rows.append({"store_id": store_id, "store_variant_id": variant, "store_sku": sku,
                             "cj_vid": f"vid-{n}", "cj_pid": f"pid-{n}", "source": "admin", "created_at": START,
                             "updated_at": START, "store_stock_ref": {}})
        with factory() as s:
            s.execute(insert(SkuMapping), rows)
            s.commit()
        figures = {}
        for round_name, stock in (("first", 40), ("steady", 35)):
            for n in range(100):
                cj.stock[f"vid-{n}"] = {"CN": stock}
            shop.requests.clear()
            woo.requests.clear()
            ebay.inventory_requests.clear()
            tiktok.requests.clear()
            cj_before = len(cj.calls)
            with factory() as s:
                stock_sync.request_stock_reads(s, why="webhook", vids={f"vid-{n}" for n in range(100)})
                s.commit()
            drain(runtime, max_jobs=10_000)
            figures[round_name] = {"shopify": len(shop.requests), "woocommerce": len(woo.requests),
                                   "ebay": len(ebay.inventory_requests), "tiktok_shop": len(tiktok.requests),
                                   "cj_calls": len(cj.calls) - cj_before}
        assert shop.available("20000000") == 35 and woo.products[5001]["stock_quantity"] == 35
        assert ebay.inventory["EBAY-SKU-0"]["quantity"] == 35
        assert tiktok.skus["1729000000000"]["warehouses"] == {"7068517275539719942": 35}
        return figures


def message_to_write_ms(db: str, messages: int) -> dict:
    """A CJ STOCK message posted to the web app, then the read and write jobs run: our time to the store write."""
    with fresh_database(db) as url, responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        app, runtime, factory = make_app(url)
        cj = FakeCj(rsps)
        shop = FakeShopify(rsps)
        shop_id = add_store(factory, "shopify", "acme-gadgets-demo.myshopify.com", runtime)
        with factory() as s:
            for n in range(messages):
                shop.add_variant(str(40_000_000 + n), item=50_000 + n, levels={1: 100})
                s.add(SkuMapping(store_id=shop_id, store_variant_id=str(40_000_000 + n), cj_vid=f"m-vid-{n}",
                                 cj_pid=f"m-pid-{n}", source="admin", cj_stock=100, want_quantity=100,
                                 store_quantity=100))
            s.commit()
        client = app.test_client()
        timings = []
        for n in range(messages):
            vid = f"m-vid-{n}"
            cj.stock[vid] = {"CN": 7}
            raw = compact({"messageId": f"bench-{n}", "type": "STOCK", "messageType": "UPDATE",
                           "params": {vid: [{"vid": vid, "countryCode": "CN", "storageNum": 7}]}})
            started = time.perf_counter()
            client.post(cj_webhook_path(), data=raw, headers={"Content-Type": "application/json",
                                                               "sign": sign(CJ_OPEN_ID, raw)})
            drain(runtime)
            timings.append((time.perf_counter() - started) * 1000)
            assert shop.available(str(40_000_000 + n)) == 7
        return {"messages": messages, "p50_ms": round(percentile(timings, 50), 1),
                "p95_ms": round(percentile(timings, 95), 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--variants", type=int, nargs="+", default=[1000, 10000])
    parser.add_argument("--points", type=int, default=50000)
    parser.add_argument("--share", type=float, default=0.2)
    parser.add_argument("--messages", type=int, default=200)
    args = parser.parse_args()
    print(f"database: {args.db}; daily points {args.points}, poll share {args.share:.0%}")
    for variants in args.variants:
        f = poll_figures(args.db, variants, args.points, args.share)
        print(f"poll, {f['variants']:>6} mapped variants: {f['points_day']} CJ points/day "
              f"(share {f['share_points']}), {f['reads_day']} stock reads/day (and {f['price_reads_day']} of "
              f"the variant, for its price), each variant re-read every "
              f"{f['reread_hours']} h: a lost STOCK message is corrected within that")
    calls = store_calls_per_100_changes(args.db)
    for name, f in calls.items():
        print(f"100 stock changes ({name} time): Shopify {f['shopify']} API calls, WooCommerce {f['woocommerce']}, "
              f"eBay {f['ebay']}, TikTok Shop {f['tiktok_shop']}; CJ {f['cj_calls']} calls "
              f"({f['cj_calls'] * 10} points)")
    m = message_to_write_ms(args.db, args.messages)
    print(f"CJ STOCK message → store write, our work: p50 {m['p50_ms']} ms, p95 {m['p95_ms']} ms "
          f"over {m['messages']} messages (plus the network and the worker's pickup of the job)")


if __name__ == "__main__":
    main()
