"""Stock sync: CJ's stock, read when CJ's messages hint at a change or the poll's turn comes, reaches the stores."""
from __future__ import annotations

from datetime import datetime

import pytest
import responses
from sqlalchemy import func, select, update

from service.pipeline import stock_sync
from service.storage.models import CjAccountState, ExternalCall, SkuMapping
from tests.conftest import admin_headers, load_fixture, post_cj, run_jobs
from tests.fakes import FakeCj, FakeShopify, FakeWoo

MESSAGES = load_fixture("cj_catalog_messages.json")
VID = "2409150812345678911"  # sold in both stores
DELISTED_VID = "2409150812345678922"
SELF_STOCKED_VID = "2409150812345678933"


def _map(client, store_id, **fields):
    res = client.put("/admin/sku-mappings", headers=admin_headers(), json=dict(store_id=store_id, **fields))
    assert res.status_code == 200, res.get_json()
    return res.get_json()["data"]["mappings"][0]


@pytest.fixture
def catalog(client, shopify_store, woo_store):
    """A Shopify store (buffer 2) and a WooCommerce store selling the same CJ variant, and what each store holds."""
    shop = FakeShopify(responses.mock)
    shop.add_variant("50011223344502", item=900, levels={1: 120}, sku="LED-STRIP-5M")
    shop.add_variant("50011223344503", item=901, levels={1: 33}, sku="SELF-STOCKED")
    shop.add_variant("50011223344599", item=999, levels={1: 7}, sku="NOT-MAPPED")
    woo = FakeWoo(responses.mock)
    woo.products = {
        4700: {"id": 4700, "type": "variable", "parent_id": 0, "sku": "LED", "manage_stock": False,
               "stock_quantity": None},
        4711: {"id": 4711, "type": "variation", "parent_id": 4700, "sku": "LED-5M", "manage_stock": True,
               "stock_quantity": 120},
        4800: {"id": 4800, "type": "simple", "parent_id": 0, "sku": "LED-BLUE", "manage_stock": True,
               "stock_quantity": 15},
    }
    res = client.patch(f"/admin/stores/{shopify_store['id']}", headers=admin_headers(), json={"stock_buffer": 2})
    assert res.status_code == 200 and res.get_json()["data"]["stock"]["buffer"] == 2
    mappings = {
        "shopify": _map(client, shopify_store["id"], store_variant_id="50011223344502", cj_vid=VID),
        "self": _map(client, shopify_store["id"], store_variant_id="50011223344503", cj_vid=SELF_STOCKED_VID,
                     self_stocked=True),
        "woo": _map(client, woo_store["id"], store_variant_id="4711", cj_vid=VID),
        "woo_delisted": _map(client, woo_store["id"], store_sku="LED-BLUE", cj_vid=DELISTED_VID),
    }
    return {"shop": shop, "woo": woo, "mappings": mappings, "shopify_store": shopify_store, "woo_store": woo_store}


def _shopify_store(client) -> int:
    """The sample shop, registered on an app made with other settings than the default fixture's."""
    return client.post("/admin/stores", headers=admin_headers(), json={
        "platform": "shopify", "shop_domain": "acme-gadgets-demo.myshopify.com", "webhook_secret": "s" * 16,
        "api_credentials": {"access_token": "shpat_EXAMPLE_NOT_REAL"}}).get_json()["data"]["id"]


def _mapping(session_factory, mapping_id) -> SkuMapping:
    with session_factory() as s:
        return s.get(SkuMapping, mapping_id)


def _set_stock_calls(shop):
    return [r["variables"] for r in shop.requests if r["query"].lstrip().startswith("mutation SetStock")]


def _woo_batches(woo):
    return [(path, body) for method, path, _q, body in woo.requests if method == "POST" and path.endswith("/batch")]


@responses.activate
def test_a_stock_message_lowers_the_quantity_in_shopify_and_woocommerce(client, runtime, session_factory, catalog):
    """Issue 21: a store kept selling what CJ could no longer ship."""
    cj = FakeCj(responses.mock)
    cj.stock[VID] = {"CN": 3, "US": 4, "TH": 50}  # Thailand is no warehouse we ship from
    shop, woo, m = catalog["shop"], catalog["woo"], catalog["mappings"]
    assert post_cj(client, MESSAGES["stock_message"]).status_code == 200
    run_jobs(runtime)

    assert [q for _op, q in cj.ops("stockQueryByVid")] == [{"vid": VID}]  # one read serves both stores
    (mutation,) = _set_stock_calls(shop)
    assert mutation["input"]["quantities"] == [{"inventoryItemId": "gid://shopify/InventoryItem/900",
                                                "locationId": "gid://shopify/Location/1", "quantity": 5,
                                                "changeFromQuantity": 120}]  # 7 less the store's buffer of 2
    assert mutation["key"].startswith(f"cj-bridge-stock-{catalog['shopify_store']['id']}-")
    assert shop.available("50011223344502") == 5 and shop.available("50011223344599") == 7
    assert _woo_batches(woo) == [("/wc/v3/products/4700/variations/batch",
                                  {"update": [{"id": 4711, "stock_quantity": 7}]})]
    assert woo.products[4711]["stock_quantity"] == 7
    row = _mapping(session_factory, m["shopify"]["id"])
    assert (row.cj_stock, row.want_quantity, row.store_quantity, row.store_quantity_why) == (7, 5, 5, "webhook")
    assert row.store_stock_ref["inventory_item_id"] == "gid://shopify/InventoryItem/900"
    listed = client.get(f"/admin/sku-mappings?store_id={catalog['woo_store']['id']}",
                        headers=admin_headers()).get_json()["data"]
    woo_stock = next(x for x in listed if x["id"] == m["woo"]["id"])["stock"]
    assert woo_stock["cj_stock"] == 7 and woo_stock["store_quantity"] == 7 and woo_stock["why"] == "webhook"
    assert woo_stock["write_pending"] is False and woo_stock["error"] is None

    # The same message again is a duplicate; a new one with the same stock reads again but writes nothing.
    assert post_cj(client, MESSAGES["stock_message"]).get_json()["message"] == "duplicate"
    again = dict(MESSAGES["stock_message"], messageId="another")
    post_cj(client, again)
    run_jobs(runtime)
    assert len(cj.ops("stockQueryByVid")) == 2 and len(_set_stock_calls(shop)) == 1 and len(_woo_batches(woo)) == 1


@responses.activate
def test_a_delisted_variant_sets_0_and_flags_the_mapping(client, runtime, session_factory, catalog):
    cj = FakeCj(responses.mock)
    cj.delisted.add(DELISTED_VID)
    post_cj(client, MESSAGES["variant_message"])
    run_jobs(runtime)
    woo = catalog["woo"]
    assert woo.products[4800]["stock_quantity"] == 0
    assert _woo_batches(woo) == [("/wc/v3/products/batch", {"update": [{"id": 4800, "stock_quantity": 0}]})]
    listed = client.get(f"/admin/sku-mappings?store_id={catalog['woo_store']['id']}",
                        headers=admin_headers()).get_json()["data"]
    flagged = next(x for x in listed if x["cj_vid"] == DELISTED_VID)["stock"]
    assert flagged["supplier_unavailable"].startswith("variant delisted (CJ 1602003) since ")
    assert flagged["store_quantity"] == 0 and flagged["why"] == "delisting"

    # CJ sells it again: a read finds stock, the flag goes, the store gets the stock back.
    cj.delisted.clear()
    cj.stock[DELISTED_VID] = {"CN": 9}
    post_cj(client, dict(MESSAGES["variant_message"], messageId="relisted"))
    run_jobs(runtime)
    row = _mapping(session_factory, catalog["mappings"]["woo_delisted"]["id"])
    assert row.supplier_unavailable is None and woo.products[4800]["stock_quantity"] == 9


@responses.activate
def test_an_order_cj_refuses_as_delisted_sets_its_variant_to_0(client, runtime, session_factory, shopify_store):
    from tests.conftest import post_shopify, shopify_order
    cj = FakeCj(responses.mock)
    shop = FakeShopify(responses.mock)
    shop.add_variant("50011223344502", item=900, levels={1: 12})
    _map(client, shopify_store["id"], store_variant_id="50011223344502", cj_vid=VID)
    body = shopify_order()
    body["line_items"] = [line for line in body["line_items"] if str(line["variant_id"]) == "50011223344502"]
    cj.fail_next["createOrderV2"] = [(200, {"code": 1602003, "result": False, "message": "variant delisted",
                                            "data": None})]
    client.put("/admin/shipping-rules", headers=admin_headers(),
               json={"country_code": "US", "logistic_names": ["CJPacket Ordinary"], "max_shipping_cost": "10.00"})
    assert post_shopify(client, body).status_code == 200
    run_jobs(runtime)
    assert shop.available("50011223344502") == 0
    with session_factory() as s:
        mapping = s.scalars(select(SkuMapping)).one()
        assert mapping.supplier_unavailable.startswith("variant delisted (CJ 1602003, on an order)")


@responses.activate
def test_a_shopify_compare_and_swap_mismatch_never_overwrites_a_newer_human_change(client, runtime, session_factory,
                                                                                catalog):
    cj = FakeCj(responses.mock)
    cj.stock[VID] = {"CN": 7}
    shop = catalog["shop"]

    def person_edits(fake):  # in Shopify admin, between our read and our write
        fake.inventory["gid://shopify/ProductVariant/50011223344502"]["levels"]["gid://shopify/Location/1"] = 40
        fake.before_inventory_write = None
    shop.before_inventory_write = person_edits
    post_cj(client, MESSAGES["stock_message"])
    run_jobs(runtime)
    assert shop.available("50011223344502") == 40  # the person's figure stands
    assert len(_set_stock_calls(shop)) == 1
    reads = [r for r in shop.requests if r["query"].lstrip().startswith("query StockOfVariants")]
    assert len(reads) == 2  # read, refused write, read again
    row = _mapping(session_factory, catalog["mappings"]["shopify"]["id"])
    assert (row.store_quantity, row.store_quantity_why) == (40, "store_changed")
    assert "moved from 120 to 40" in row.stock_write_error

    # The same CJ figure again decides nothing new: the person's figure still stands.
    post_cj(client, dict(MESSAGES["stock_message"], messageId="m-2"))
    run_jobs(runtime)
    assert shop.available("50011223344502") == 40 and len(_set_stock_calls(shop)) == 1
    # CJ's stock changes: a new decision, written over the figure read now (compare-and-swap from 40).
    cj.stock[VID] = {"CN": 3}
    post_cj(client, dict(MESSAGES["stock_message"], messageId="m-3"))
    run_jobs(runtime)
    assert shop.available("50011223344502") == 1
    assert _set_stock_calls(shop)[-1]["input"]["quantities"][0]["changeFromQuantity"] == 40


@responses.activate
def test_unmapped_and_self_stocked_variants_are_never_read_or_written(client, runtime, session_factory, catalog):
    cj = FakeCj(responses.mock)
    cj.stock[SELF_STOCKED_VID] = {"CN": 0}
    message = {"messageId": "self", "type": "STOCK", "messageType": "UPDATE", "params": {
        SELF_STOCKED_VID: [{"vid": SELF_STOCKED_VID, "countryCode": "CN", "storageNum": 0}],
        "2409150812345670000": [{"vid": "2409150812345670000", "countryCode": "CN", "storageNum": 0}]}}
    post_cj(client, message)
    res = client.post(f"/admin/stores/{catalog['shopify_store']['id']}/stock/resync", headers=admin_headers())
    assert res.status_code == 202 and res.get_json()["data"]["mappings_marked"] == 1  # the mapped one only
    run_jobs(runtime)
    shop = catalog["shop"]
    assert shop.available("50011223344503") == 33 and shop.available("50011223344599") == 7
    written = [q["inventoryItemId"] for v in _set_stock_calls(shop) for q in v["input"]["quantities"]]
    assert "gid://shopify/InventoryItem/901" not in written and "gid://shopify/InventoryItem/999" not in written
    assert {q["vid"] for _op, q in cj.ops("stockQueryByVid")} == {VID}


@responses.activate
def test_the_poll_keeps_within_its_share_of_the_points_and_reads_the_oldest_first(make_app, session_factory,
                                                                                monkeypatch):
    app = make_app(CJ_DAILY_POINTS="1000", STOCK_POLL_POINTS_SHARE="0.2", CJ_DRY_RUN="false")
    runtime, client = app.extensions["cj_bridge"], app.test_client()
    cj = FakeCj(responses.mock)
    shop = FakeShopify(responses.mock)
    store_id = _shopify_store(client)
    for n in range(60):
        shop.add_variant(f"6000{n:03d}", item=7000 + n, levels={1: 50})
        _map(client, store_id, store_variant_id=f"6000{n:03d}", cj_vid=f"vid-{n:03d}")
    with session_factory() as s:  # ten were read yesterday; fifty never
        for row in s.scalars(select(SkuMapping).where(SkuMapping.cj_vid < "vid-010")):
            row.cj_stock_at, row.cj_stock, row.want_quantity = datetime(2026, 12, 3, 12, 0), 50, 50
        s.commit()
    clock = {"now": datetime(2026, 12, 4, 6, 0)}
    monkeypatch.setattr(stock_sync, "utcnow", lambda: clock["now"])

    def poll():
        with session_factory() as s:
            outcome = stock_sync.poll_cj_stock(s, runtime=runtime)
            s.commit()
        run_jobs(runtime)
        return outcome

    def points_spent_at_cj():  # counted on the mocked CJ, at CJ's published costs
        return 10 * (len(cj.ops("stockQueryByVid")) + len(cj.ops("variantQueryByVid")))

    # 200 points a day for the poll, spread over the day: by 06:10, about a quarter of them. A variant never
    # read costs 20 (its product id is read too, for the subscriptions), so two fit.
    assert poll() == "2 variant(s) marked for a stock read (40 of 200 points today)"
    assert poll() == "points share for the poll used so far today (40 of 200)"
    clock["now"] = datetime(2026, 12, 4, 23, 55)
    for _ in range(5):
        poll()
    read = [q["vid"] for _op, q in cj.ops("stockQueryByVid")]
    assert len(read) == 10 and points_spent_at_cj() == 200
    assert not any(v < "vid-010" for v in read)  # the never-read ones first
    with session_factory() as s:
        assert s.get(CjAccountState, 1).stock_poll_points == 200
    clock["now"] = datetime(2026, 12, 5, 23, 55)  # a new day, a new share
    poll()
    assert points_spent_at_cj() == 400 and len(cj.ops("stockQueryByVid")) == 20


@responses.activate
def test_a_lost_stock_message_is_corrected_by_the_poll(client, runtime, session_factory, catalog):
    cj = FakeCj(responses.mock)
    cj.stock[VID] = {"CN": 30}
    with session_factory() as s:
        stock_sync.poll_cj_stock(s, runtime=runtime)
        s.commit()
    run_jobs(runtime)
    assert catalog["shop"].available("50011223344502") == 28
    cj.stock[VID] = {"CN": 1}  # CJ's STOCK message for this never arrives
    with session_factory() as s:
        for row in s.scalars(select(SkuMapping)):
            row.cj_stock_at = datetime(2026, 1, 1)  # its turn in the poll
        s.commit()
        stock_sync.poll_cj_stock(s, runtime=runtime)
        s.commit()
    run_jobs(runtime)
    assert catalog["shop"].available("50011223344502") == 0 and catalog["woo"].products[4711]["stock_quantity"] == 1


@responses.activate
def test_dry_run_records_the_writes_it_would_make_and_writes_nothing(make_app, session_factory):
    app = make_app(STOCK_SYNC="dry_run")
    runtime, client = app.extensions["cj_bridge"], app.test_client()
    cj = FakeCj(responses.mock)
    cj.stock[VID] = {"CN": 3}
    shop = FakeShopify(responses.mock)
    shop.add_variant("50011223344502", item=900, levels={1: 120})
    store_id = _shopify_store(client)
    _map(client, store_id, store_variant_id="50011223344502", cj_vid=VID)
    post_cj(client, MESSAGES["stock_message"])
    run_jobs(runtime)
    assert shop.requests == [] and shop.available("50011223344502") == 120
    with session_factory() as s:
        (call,) = s.scalars(select(ExternalCall).where(ExternalCall.operation == "setStock")).all()
        assert call.outcome == "dry_run" and call.request["items"][0]["quantity"] == 3
        mapping = s.scalars(select(SkuMapping)).one()
        assert mapping.want_quantity == 3 and mapping.store_quantity is None and mapping.want_why is None
    (recorded,) = client.get(f"/admin/stock-writes?store_id={store_id}", headers=admin_headers()).get_json()["data"]
    assert recorded["outcome"] == "dry_run" and recorded["items"][0]["quantity"] == 3
    assert recorded["items"][0]["why"] == "webhook" and recorded["platform"] == "shopify"


@responses.activate
def test_a_platform_without_a_stock_write_is_skipped_with_a_note(client, runtime, session_factory, caplog,
                                                                  monkeypatch):
    """Every adapter writes stock today; one added without it (can_set_stock False) is skipped, not an error."""
    from adapters.ebay import EbayAdapter
    from tests.pipeline.test_ebay_flow import CREDENTIALS, SELLER
    monkeypatch.setattr(EbayAdapter, "can_set_stock", False)
    cj = FakeCj(responses.mock)
    cj.stock[VID] = {"CN": 4}
    store_id = client.post("/admin/stores", headers=admin_headers(), json={
        "platform": "ebay", "shop_domain": SELLER, "api_credentials": CREDENTIALS}).get_json()["data"]["id"]
    assert client.get(f"/admin/stores/{store_id}", headers=admin_headers()).get_json()["data"]["stock"]["written"] \
        is False
    mapping = _map(client, store_id, store_sku="EBAY-LED", cj_vid=VID)
    caplog.set_level("INFO")
    post_cj(client, MESSAGES["stock_message"])
    run_jobs(runtime)  # no eBay call is mocked: any would fail the test
    row = _mapping(session_factory, mapping["id"])
    assert row.cj_stock == 4 and row.want_why is None and row.store_quantity is None
    assert row.stock_write_error.startswith("ebay stock is not written by this service")
    assert [r for r in caplog.records if r.msg == "stock_sync_unsupported"]


@responses.activate
def test_cj_dry_run_reads_nothing_from_cj(make_app, session_factory):
    app = make_app(CJ_DRY_RUN="true")
    runtime, client = app.extensions["cj_bridge"], app.test_client()
    cj = FakeCj(responses.mock)
    store_id = _shopify_store(client)
    _map(client, store_id, store_variant_id="50011223344502", cj_vid=VID)
    post_cj(client, MESSAGES["stock_message"])
    run_jobs(runtime)
    assert cj.ops("stockQueryByVid") == []
    with session_factory() as s:
        assert s.scalars(select(SkuMapping)).one().stock_read_requested_at is None


def test_a_product_message_marks_every_mapped_variant_of_the_product(client, session_factory, shopify_store):
    _map(client, shopify_store["id"], store_variant_id="1", cj_vid="v1", cj_pid="1424608189734850560")
    _map(client, shopify_store["id"], store_variant_id="2", cj_vid="v2", cj_pid="1424608189734850560")
    _map(client, shopify_store["id"], store_variant_id="3", cj_vid="v3", cj_pid="other")
    post_cj(client, MESSAGES["product_message"])
    from service.storage.models import WebhookEvent
    with session_factory() as s:
        event = s.scalars(select(WebhookEvent)).one()
        assert stock_sync.apply_cj_catalog_event(s, event_id=event.id) == "stock read requested for 2 mapping(s)"
        s.commit()
        marked = {m.cj_vid for m in s.scalars(select(SkuMapping).where(
            SkuMapping.stock_read_requested_at.is_not(None)))}
    assert marked == {"v1", "v2"}


def test_the_resync_is_refused_while_stock_sync_is_off(make_app, session_factory):
    app = make_app(STOCK_SYNC="off")
    client = app.test_client()
    store_id = _shopify_store(client)
    res = client.post(f"/admin/stores/{store_id}/stock/resync", headers=admin_headers())
    assert res.status_code == 409 and res.get_json()["error"]["code"] == "stock_sync_off"
    assert client.post("/admin/stores/999/stock/resync", headers=admin_headers()).status_code == 404


def test_stock_settings_are_checked_at_start(tmp_path):
    from service.config import ConfigError, load_settings
    for name, value in (("STOCK_SYNC", "sometimes"), ("STOCK_POLL_POINTS_SHARE", "1.5"),
                        ("STOCK_POLL_POINTS_SHARE", "a fifth")):
        with pytest.raises(ConfigError) as err:
            load_settings({name: value}, instance_path=str(tmp_path))
        assert str(err.value).startswith(name)
    assert load_settings({"STOCK_SYNC": "dry-run"}, instance_path=str(tmp_path)).stock_sync == "dry_run"


@responses.activate
def test_the_resync_command_shows_its_progress(app, runtime, session_factory, catalog):
    cj = FakeCj(responses.mock)
    cj.stock[VID] = {"CN": 11}
    result = app.test_cli_runner().invoke(args=["resync-stock", str(catalog["shopify_store"]["id"])])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == f"store {catalog['shopify_store']['id']}: 1 mapping(s) to read from CJ and write"
    assert "read_cj_stock done: read 1/1, 1 write(s) waiting" in lines
    assert "write_store_stock done: read 1/1, 0 write(s) waiting" in lines and lines[-1] == "done"
    assert catalog["shop"].available("50011223344502") == 9
    missing = app.test_cli_runner().invoke(args=["resync-stock", "999"])
    assert missing.exit_code != 0 and "no store with id 999" in missing.output


@responses.activate
def test_two_workers_never_write_one_store_at_once(runtime, session_factory, engine, catalog):
    """A second write job for a store another worker is writing waits (no attempt used), then writes."""
    if engine.dialect.name != "postgresql":
        pytest.skip("advisory locks exist on PostgreSQL; SQLite runs a single worker")
    from service.jobs.order_lock import work_lock_or_retry
    from service.jobs.queue import claim
    from service.jobs.worker import run_job
    from service.pipeline.store_stock_writes import enqueue_store_writes
    from service.storage.models import Job
    store_id = catalog["shopify_store"]["id"]
    with session_factory() as s:
        mapping = s.get(SkuMapping, catalog["mappings"]["shopify"]["id"])
        mapping.want_quantity, mapping.want_why = 4, "webhook"
        enqueue_store_writes(s, store_ids=[store_id])
        s.commit()
    job = claim(session_factory, worker_id="w2", lease_seconds=60)
    with work_lock_or_retry(engine, "store_stock", store_id):  # the other worker, mid-write
        assert run_job(runtime, job, worker_id="w2") == "queued"
    with session_factory() as s:
        assert s.get(Job, job.id).attempts == 0
        assert s.get(SkuMapping, catalog["mappings"]["shopify"]["id"]).want_why == "webhook"
    assert catalog["shop"].available("50011223344502") == 120


def test_a_weaker_reason_never_replaces_a_stronger_mark(client, session_factory, shopify_store):
    mapping = _map(client, shopify_store["id"], store_variant_id="1", cj_vid="v1")
    with session_factory() as s:
        stock_sync.request_stock_reads(s, why="resync", store_id=shopify_store["id"])
        s.commit()
        first = s.get(SkuMapping, mapping["id"]).stock_read_requested_at
        stock_sync.request_stock_reads(s, why="webhook", vids={"v1"})
        s.commit()
        row = s.get(SkuMapping, mapping["id"])
        s.refresh(row)
        assert (row.stock_read_why, row.stock_read_requested_at) == ("resync", first)  # its place kept too
        row.stock_read_why = "poll"
        s.commit()
        stock_sync.request_stock_reads(s, why="catalog", vids={"v1"})
        s.commit()
        s.refresh(row)
        assert row.stock_read_why == "catalog"


def test_marking_a_mapping_self_stocked_drops_what_waited_for_it(client, session_factory, shopify_store):
    mapping = _map(client, shopify_store["id"], store_variant_id="1", cj_vid="v1")
    with session_factory() as s:
        row = s.get(SkuMapping, mapping["id"])
        row.want_quantity, row.want_why = 0, "delisting"
        s.commit()
        stock_sync.request_stock_reads(s, why="poll", vids={"v1"})
        s.commit()
    _map(client, shopify_store["id"], store_variant_id="1", cj_vid="v1", self_stocked=True)
    with session_factory() as s:
        row = s.get(SkuMapping, mapping["id"])
        assert (row.want_why, row.stock_read_requested_at) == (None, None)


@responses.activate
def test_a_variant_cj_refuses_does_not_stop_the_others(client, runtime, session_factory, catalog):
    """Review of issue 21: one mistyped vid kept every later read from happening."""
    cj = FakeCj(responses.mock)
    cj.stock[VID] = {"CN": 6}
    mistyped = _map(client, catalog["shopify_store"]["id"], store_variant_id="50011223344599", cj_vid="no-such-vid")
    cj.fail_next["stockQueryByVid"] = [(200, {"code": 1600100, "result": False, "message": "Param error",
                                              "data": None})]
    with session_factory() as s:  # the bad one first in line
        stock_sync.request_stock_reads(s, why="poll", vids={"no-such-vid"})
        s.commit()
        stock_sync.request_stock_reads(s, why="poll", vids={VID})
        s.commit()
    run_jobs(runtime)
    assert catalog["shop"].available("50011223344502") == 4
    row = _mapping(session_factory, mistyped["id"])
    assert row.stock_read_requested_at is None and "check the mapping's cj_vid" in row.stock_write_error
    assert row.cj_stock_at is not None  # its turn in the poll is over: it does not stay first in line


@responses.activate
def test_the_same_refusal_for_every_variant_is_about_the_account_and_the_marks_stay(client, runtime,
                                                                                    session_factory, catalog):
    """Second review of issue 21: an account-wide refusal must not be taken for a bad variant."""
    cj = FakeCj(responses.mock)
    refusal = (200, {"code": 1600100, "result": False, "message": "Param error", "data": None})
    cj.fail_next["stockQueryByVid"] = [refusal, refusal]
    _map(client, catalog["shopify_store"]["id"], store_variant_id="50011223344599", cj_vid="vid-b")
    with session_factory() as s:
        stock_sync.request_stock_reads(s, why="poll", vids={VID, "vid-b"})
        s.commit()
        from service.jobs.outcomes import RetryLater
        with pytest.raises(RetryLater):
            stock_sync.read_marked_stock(s, runtime=runtime)
        s.rollback()
        marked = s.scalar(select(func.count(SkuMapping.id)).where(SkuMapping.stock_read_requested_at.is_not(None)))
        noted = s.scalar(select(func.count(SkuMapping.id)).where(SkuMapping.stock_write_error.is_not(None)))
    assert marked == 3 and noted == 0  # both marks of VID (two stores) and vid-b's stay; nothing blamed


@responses.activate
def test_the_same_figure_written_again_after_the_store_moved_back_is_applied(client, runtime, session_factory,
                                                                             catalog):
    """Review of issue 21: an idempotency key made of the input alone made Shopify drop the second write."""
    cj = FakeCj(responses.mock)
    shop = catalog["shop"]
    cj.stock[VID] = {"CN": 6}
    post_cj(client, MESSAGES["stock_message"])
    run_jobs(runtime)
    assert shop.available("50011223344502") == 4
    shop.inventory["gid://shopify/ProductVariant/50011223344502"]["levels"]["gid://shopify/Location/1"] = 120
    cj.stock[VID] = {"CN": 9}  # a change, then back: the second decision is again 120 → 4
    post_cj(client, dict(MESSAGES["stock_message"], messageId="up"))
    run_jobs(runtime)
    shop.inventory["gid://shopify/ProductVariant/50011223344502"]["levels"]["gid://shopify/Location/1"] = 120
    cj.stock[VID] = {"CN": 6}
    post_cj(client, dict(MESSAGES["stock_message"], messageId="down"))
    run_jobs(runtime)
    assert shop.available("50011223344502") == 4


@responses.activate
def test_a_hint_that_comes_during_a_read_is_read_again(client, runtime, session_factory, catalog):
    """Review of issue 21: the read cleared a mark a message had set while CJ was being asked."""
    cj = FakeCj(responses.mock)
    cj.stock[VID] = {"CN": 6}

    def message_meanwhile(body, query):
        with session_factory() as s:
            stock_sync.request_stock_reads(s, why="webhook", vids={VID})
            s.commit()
        cj.stock[VID] = {"CN": 2}
        return 200, {}, '{"code": 200, "result": true, "message": "Success", "data": [{"countryCode": "CN", ' \
                        '"totalInventoryNum": 6}], "requestId": "r"}'
    cj.fail_next["stockQueryByVid"] = [message_meanwhile]
    with session_factory() as s:
        stock_sync.request_stock_reads(s, why="poll", vids={VID})
        s.commit()
    import time as clock
    clock.sleep(0.01)
    run_jobs(runtime)
    assert len(cj.ops("stockQueryByVid")) == 2 and catalog["shop"].available("50011223344502") == 0


@responses.activate
def test_dry_run_then_on_writes_what_was_only_recorded(make_app, session_factory):
    """Review of issue 21: a decision recorded in dry-run was never written once stock sync was turned on."""
    cj = FakeCj(responses.mock)
    cj.stock[VID] = {"CN": 3}
    shop = FakeShopify(responses.mock)
    shop.add_variant("50011223344502", item=900, levels={1: 120})
    dry = make_app(STOCK_SYNC="dry_run")
    store_id = _shopify_store(dry.test_client())
    _map(dry.test_client(), store_id, store_variant_id="50011223344502", cj_vid=VID)
    post_cj(dry.test_client(), MESSAGES["stock_message"])
    run_jobs(dry.extensions["cj_bridge"])
    assert shop.available("50011223344502") == 120
    live = make_app()
    live.extensions["cj_bridge"].cj._sleep = lambda _s: None
    with session_factory() as s:
        stock_sync.poll_cj_stock(s, runtime=live.extensions["cj_bridge"])
        s.commit()
    run_jobs(live.extensions["cj_bridge"])
    assert shop.available("50011223344502") == 3


@responses.activate
def test_re_pointing_a_mapping_forgets_the_old_store_variant(client, runtime, session_factory, catalog):
    cj = FakeCj(responses.mock)
    cj.stock[VID] = {"CN": 6}
    post_cj(client, MESSAGES["stock_message"])
    run_jobs(runtime)
    store_id, mapping_id = catalog["shopify_store"]["id"], catalog["mappings"]["shopify"]["id"]
    assert _map(client, store_id, store_variant_id="50011223344502", store_sku="LED-X", cj_vid=VID)["id"] == mapping_id
    assert _mapping(session_factory, mapping_id).store_stock_ref["variant_gid"].endswith("/50011223344502")
    moved = _map(client, store_id, store_variant_id="50011223344599", store_sku="LED-X", cj_vid=VID)
    assert moved["id"] == mapping_id  # found by its SKU, now pointing at another variant
    row = _mapping(session_factory, mapping_id)
    assert row.store_stock_ref == {} and row.store_quantity is None and row.store_variant_id == "50011223344599"
    run_jobs(runtime)  # the new variant gets CJ's last figure at once, not when the poll comes by
    assert catalog["shop"].available("50011223344599") == 4 and catalog["shop"].available("50011223344502") == 4


@responses.activate
def test_a_skipped_variant_is_not_tried_again_on_every_read(client, runtime, session_factory, catalog):
    """Second review of issue 21: an untracked variant was written (and skipped) again on every read."""
    cj = FakeCj(responses.mock)
    cj.stock[VID] = {"CN": 6}
    shop = catalog["shop"]
    shop.inventory["gid://shopify/ProductVariant/50011223344502"]["tracked"] = False
    post_cj(client, MESSAGES["stock_message"])
    run_jobs(runtime)
    row = _mapping(session_factory, catalog["mappings"]["shopify"]["id"])
    assert row.store_quantity_why == "skipped" and "Track quantity" in row.stock_write_error
    reads = len(shop.requests)
    post_cj(client, dict(MESSAGES["stock_message"], messageId="again"))
    run_jobs(runtime)
    assert len(shop.requests) == reads  # the same figure: Shopify not asked again
    shop.inventory["gid://shopify/ProductVariant/50011223344502"]["tracked"] = True  # fixed; then a resync
    client.post(f"/admin/stores/{catalog['shopify_store']['id']}/stock/resync", headers=admin_headers())
    run_jobs(runtime)
    assert shop.available("50011223344502") == 4


@responses.activate
def test_stock_reads_keep_a_reserve_of_cj_points_for_orders(make_app, session_factory):
    """Review of issue 21: a resync (or a burst of messages) could spend the points freight quotes need."""
    app = make_app(CJ_DAILY_POINTS="100")  # a reserve of 25: 75 for stock today
    runtime, client = app.extensions["cj_bridge"], app.test_client()
    runtime.cj._sleep = lambda _s: None
    cj = FakeCj(responses.mock)
    FakeShopify(responses.mock)
    store_id = _shopify_store(client)
    for n in range(10):
        _map(client, store_id, store_variant_id=str(700 + n), cj_vid=f"r-vid-{n}")
    res = client.post(f"/admin/stores/{store_id}/stock/resync", headers=admin_headers()).get_json()["data"]
    assert res["points_needed"] == 100 and res["points_for_stock_today"] == 75
    run_jobs(runtime)
    # Never read: 20 points each (the variant and its stock), so three fit in 75.
    assert len(cj.ops("stockQueryByVid")) == 3 and len(cj.ops("variantQueryByVid")) == 3
    from service.storage.models import Job
    with session_factory() as s:
        waiting = s.scalars(select(Job).where(Job.kind == "read_cj_stock", Job.status == "queued")).one()
        assert waiting.run_at.hour == 0 and waiting.run_at > datetime.utcnow()
        assert s.scalar(select(func.count(SkuMapping.id)).where(SkuMapping.stock_read_requested_at.is_not(None))) == 7


def test_the_resync_command_leaves_the_work_to_a_running_sqlite_worker(app, engine, session_factory, catalog):
    """Review of issue 21: the command claimed jobs beside the running worker, a second worker on SQLite."""
    if engine.dialect.name != "sqlite":
        pytest.skip("one worker per SQLite file; on PostgreSQL the command is one more worker")
    from service.jobs.sqlite_worker_lock import take_sqlite_worker_lock
    worker = take_sqlite_worker_lock(app.extensions["cj_bridge"].settings.database_url)
    try:
        result = app.test_cli_runner().invoke(args=["resync-stock", str(catalog["shopify_store"]["id"])])
    finally:
        worker.close()
    assert result.exit_code == 0, result.output
    assert "the running worker reads and writes them" in result.output
    with session_factory() as s:
        assert s.get(SkuMapping, catalog["mappings"]["shopify"]["id"]).stock_read_why == "resync"


def _poll_on(monkeypatch, session_factory, runtime, day: int) -> None:
    """The poll's turn on 2026-12-<day>, every variant due (as if its last read were long ago), and the jobs run."""
    monkeypatch.setattr(stock_sync, "utcnow", lambda: datetime(2026, 12, day, 12, 0))
    with session_factory() as s:
        s.execute(update(SkuMapping).values(cj_stock_at=None))
        stock_sync.poll_cj_stock(s, runtime=runtime)
        s.commit()
    run_jobs(runtime)


@responses.activate
def test_the_poll_reads_each_variants_price_once_a_week(client, runtime, session_factory, shopify_store,
                                                        monkeypatch):
    """Review of issue 21: a CJ price change whose message was lost never reached the margins or the rule; and
    a weekday drawn from the vid never met a poll turn that came every 7 days on another day."""
    cj = FakeCj(responses.mock)
    FakeShopify(responses.mock)
    _map(client, shopify_store["id"], store_variant_id="1", cj_vid="weekly-vid", cj_pid="p-weekly")
    reads_by_day = []
    for day in range(1, 23):  # every day of three weeks: read on the 1st, 8th, 15th and 22nd
        _poll_on(monkeypatch, session_factory, runtime, day)
        reads_by_day.append(len(cj.ops("variantQueryByVid")))
    assert len(cj.ops("stockQueryByVid")) == 22
    assert [d + 1 for d in range(22) if reads_by_day[d] > (reads_by_day[d - 1] if d else 0)] == [1, 8, 15, 22]


@responses.activate
def test_a_poll_turn_every_ten_days_reads_the_price_on_each_turn(client, runtime, session_factory, shopify_store,
                                                                monkeypatch):
    """A large catalogue is polled less than weekly: each turn is then a week past the last price read."""
    cj = FakeCj(responses.mock)
    FakeShopify(responses.mock)
    _map(client, shopify_store["id"], store_variant_id="1", cj_vid="slow-vid", cj_pid="p-slow")
    for day in (1, 11, 21):
        _poll_on(monkeypatch, session_factory, runtime, day)
    assert len(cj.ops("stockQueryByVid")) == 3 and len(cj.ops("variantQueryByVid")) == 3


def test_a_catalogue_too_large_to_poll_weekly_reads_prices_every_seventh_turn(make_app, session_factory):
    """Price reads never take more than an eighth of the poll's points: stock decides what a store can sell."""
    from datetime import timedelta
    from service.storage.models import Store
    app = make_app(CJ_DAILY_POINTS="1000", STOCK_POLL_POINTS_SHARE="0.2")  # 20 stock reads a day
    runtime = app.extensions["cj_bridge"]
    with session_factory() as s:
        store = Store(platform="shopify", domain="big-catalogue.myshopify.com", active=True,
                      webhook_secret_enc=runtime.box.seal("s" * 16))
        s.add(store)
        s.flush()
        s.add_all([SkuMapping(store_id=store.id, store_variant_id=str(n), cj_vid=f"v-{n}") for n in range(10)])
        s.flush()
        assert stock_sync.price_read_every(s, runtime) == timedelta(days=7)  # polled twice a day: weekly
        s.add_all([SkuMapping(store_id=store.id, store_variant_id=str(n), cj_vid=f"v-{n}") for n in range(10, 40)])
        s.add(SkuMapping(store_id=store.id, store_variant_id="own", cj_vid="v-own", self_stocked=True))
        s.flush()
        assert stock_sync.price_read_every(s, runtime) == timedelta(days=14)  # a turn every 2 days: 7 turns


@responses.activate
def test_one_item_shopify_refuses_does_not_cost_the_rest_of_the_batch(client, runtime, session_factory, catalog):
    """Review of issue 21: one refused item dropped every decision of the store's batch."""
    cj = FakeCj(responses.mock)
    shop = catalog["shop"]
    shop.add_variant("50011223344504", item=904, levels={1: 80})
    other = _map(client, catalog["shopify_store"]["id"], store_variant_id="50011223344504", cj_vid="vid-other")
    cj.stock[VID] = {"CN": 6}
    cj.stock["vid-other"] = {"CN": 12}
    shop.refuse_items = {"gid://shopify/InventoryItem/900"}
    with session_factory() as s:
        stock_sync.request_stock_reads(s, why="webhook", vids={VID, "vid-other"})
        s.commit()
    run_jobs(runtime)
    assert shop.available("50011223344504") == 10 and shop.available("50011223344502") == 120
    refused = _mapping(session_factory, catalog["mappings"]["shopify"]["id"])
    assert refused.stock_write_error.startswith("Shopify refused the quantity (INVALID_QUANTITY_TOO_HIGH")
    assert _mapping(session_factory, other["id"]).store_quantity == 10
