"""CJ's variant lookup by SKU: the admin API's GET /admin/cj/variants and the held order page share it."""
from __future__ import annotations

import responses
from sqlalchemy import select

from service.storage.models import CjVariantCache
from tests.conftest import admin_headers
from tests.fakes import FakeCj
from tests.service.web.ui.conftest import make_held_order, sign_in

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
def test_json_lookup_of_an_unknown_sku_says_what_cj_said(client, session_factory):
    FakeCj(responses.mock)
    res = client.get("/admin/cj/variants?sku=NOPE", headers=admin_headers())
    assert res.status_code == 502 and "1602000" in res.get_json()["error"]["message"]
    with session_factory() as s:
        assert s.scalars(select(CjVariantCache)).all() == []


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
    html = client.get(f"/admin/ui/orders/{order['id']}?lookup_sku=CJ-LED-STRIP-5M-RGB").get_data(as_text=True)
    assert "CJ variants for CJ-LED-STRIP-5M-RGB" in html
    assert html.index("2409150812345678900") < html.index("2409150812345678999")
    assert 'data-value="2409150812345678900"' in html
