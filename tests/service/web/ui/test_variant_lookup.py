"""CJ's variant lookup by SKU: the admin API's GET /admin/cj/variants and the held order page share it."""
from __future__ import annotations

import re

import responses
from sqlalchemy import select

from service.storage.models import CjVariantCache, Job, SkuMapping
from tests.conftest import admin_headers
from tests.fakes import FakeCj
from tests.service.web.ui.conftest import csrf_of, make_held_order, sign_in

SIBLINGS = [{"vid": "2409150812345678999", "variantSku": "CJ-LED-STRIP-5M-RGBW", "variantNameEn": "RGBW 5 m",
             "variantSellPrice": 7.1},
            {"vid": "2409150812345678900", "variantSku": "CJ-LED-STRIP-5M-RGB", "variantNameEn": "RGB 5 m",
             "variantSellPrice": 6.2}]


@responses.activate
def test_json_lookup_puts_the_exact_match_first_and_caches_it(client, session_factory):
    cj = FakeCj(responses.mock)
    cj.variants["CJ-LED-STRIP-5M-RGB"] = SIBLINGS
    res = client.get("/admin/cj/variants?sku=CJ-LED-STRIP-5M-RGB", headers=admin_headers())
    assert res.status_code == 200, res.get_json()
    rows = res.get_json()["data"]
    assert [(r["vid"], r["exact"]) for r in rows] == [("2409150812345678900", True), ("2409150812345678999", False)]
    with session_factory() as s:
        assert s.get(CjVariantCache, "CJ-LED-STRIP-5M-RGB").vid == "2409150812345678900"
    assert client.get("/admin/cj/variants?sku=", headers=admin_headers()).status_code == 400
    assert client.get("/admin/cj/variants?sku=x").status_code == 401


@responses.activate
def test_json_lookup_of_an_unknown_sku_is_an_empty_answer(client, session_factory):
    FakeCj(responses.mock)  # answers 1602000 "variant not found"
    res = client.get("/admin/cj/variants?sku=NOPE", headers=admin_headers())
    assert res.status_code == 200 and res.get_json()["data"] == []
    with session_factory() as s:
        assert s.scalars(select(CjVariantCache)).all() == []


@responses.activate
def test_a_lookup_while_cj_cannot_be_asked_says_when_to_try_again(client, runtime, monkeypatch):
    """Review of issue 16: another process signing in to CJ made the lookup a 500."""
    from service.jobs.outcomes import RetryLater

    def busy(_sku):
        raise RetryLater("another process is getting CJ's access token", retry_after=4.2)
    monkeypatch.setattr(runtime.cj, "query_variants_by_sku", busy)
    res = client.get("/admin/cj/variants?sku=CJ-LED", headers=admin_headers())
    assert res.status_code == 503 and res.headers["Retry-After"] == "4"
    assert res.get_json()["error"]["code"] == "cj_busy" and "try again in 4 s" in res.get_json()["error"]["message"]


@responses.activate
def test_cjs_rate_limit_during_a_lookup_is_busy_not_an_error(client, runtime):
    cj = FakeCj(responses.mock)
    cj.fail_next["variantQuery"] = [(200, {"code": 1600200, "result": False, "message": "Too much request",
                                           "data": None, "requestId": "r-1"})]
    res = client.get("/admin/cj/variants?sku=CJ-LED", headers=admin_headers())
    assert res.status_code == 503 and res.get_json()["error"]["code"] == "cj_busy" and res.headers["Retry-After"]


@responses.activate
def test_the_order_page_lists_cj_variants_to_use(make_app, session_factory):
    cj = FakeCj(responses.mock)
    cj.variants["CJ-LED-STRIP-5M-RGB"] = SIBLINGS
    # With a CJ key forward_order asks CJ itself about CJ-looking SKUs: this one is unknown to CJ then.
    app = make_app(CJ_DRY_RUN="true")
    app.extensions["cj_bridge"].cj._sleep = lambda _s: None
    client = app.test_client()
    cj.variants.pop("CJ-LED-STRIP-5M-RGB")
    order = make_held_order(client, app.extensions["cj_bridge"], session_factory)
    cj.variants["CJ-LED-STRIP-5M-RGB"] = SIBLINGS
    sign_in(client)
    url = f"/admin/ui/orders/{order['id']}"
    # A GET never asks CJ (a link from another site must not spend the account's requests and points).
    calls = len(responses.calls)
    assert "CJ variants for" not in client.get(f"{url}?lookup_sku=CJ-LED-STRIP-5M-RGB").get_data(as_text=True)
    assert len(responses.calls) == calls
    token = csrf_of(client.get(url).get_data(as_text=True))
    html = client.post(f"{url}/lookup", data={"csrf_token": token, "lookup_sku": "CJ-LED-STRIP-5M-RGB"}
                       ).get_data(as_text=True)
    assert "CJ variants for CJ-LED-STRIP-5M-RGB" in html
    assert html.index("2409150812345678900") < html.index("2409150812345678999")
    assert 'data-value="2409150812345678900"' in html

    # The exact match is now cached, yet the line stays on the page until its mapping is saved; saving it maps
    # the line for good and resumes the order.
    assert 'name="cj_vid-' in client.get(url).get_data(as_text=True)
    line_ids = re.findall(r'name="cj_vid-([^"]+)"', client.get(url).get_data(as_text=True))
    form = {"csrf_token": token, **{f"cj_vid-{line_id}": "2409150812345678900" for line_id in line_ids}}
    assert client.post(f"{url}/mappings", data=form).status_code == 302
    with session_factory() as s:
        assert s.scalars(select(SkuMapping)).all()  # a mapping, not only the cache
        assert s.scalar(select(Job).where(Job.kind == "forward_order", Job.status == "queued")) is not None
    assert "Saved" in client.get(url).get_data(as_text=True)
