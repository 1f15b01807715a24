"""Admin page fixtures: a dry-run app, a signed-in test client, an order held for needs_mapping, a dead job."""
from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from service.storage.models import Job, Order
from service.timeutil import utcnow
from tests.conftest import ADMIN_TOKEN, admin_headers, post_shopify, run_jobs, shopify_order

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_of(page_html: str) -> str:
    return CSRF.search(page_html).group(1)


def sign_in(client, token: str = ADMIN_TOKEN):
    page = client.get("/admin/ui/sign-in").get_data(as_text=True)
    return client.post("/admin/ui/sign-in", data={"token": token, "csrf_token": csrf_of(page)})


@pytest.fixture
def ui_app(make_app):
    """Dry run (no CJ key): a mapped order goes as far as CJ's create, which is recorded, not sent."""
    app = make_app(CJ_API_KEY=None, CJ_DRY_RUN="true")
    app.extensions["cj_bridge"].cj._sleep = lambda _s: None
    return app


@pytest.fixture
def ui_client(ui_app):
    return ui_app.test_client()


@pytest.fixture
def signed_in(ui_client):
    assert sign_in(ui_client).status_code == 302
    return ui_client


def make_held_order(client, runtime, session_factory) -> dict:
    """A Shopify order held needs_mapping (its two lines unmapped), with a default shipping rule in place."""
    store = client.post("/admin/stores", headers=admin_headers(), json={
        "platform": "shopify", "shop_domain": "acme-gadgets-demo.myshopify.com",
        "webhook_secret": "test-client-secret-NOT-REAL",
        "api_credentials": {"access_token": "shpat_EXAMPLE_NOT_REAL"}}).get_json()["data"]
    res = client.put("/admin/shipping-rules", headers=admin_headers(),
                     json={"country_code": "*", "logistic_names": ["CJPacket Ordinary"]})
    assert res.status_code == 200, res.get_json()
    assert post_shopify(client, shopify_order()).status_code == 200
    run_jobs(runtime)
    with session_factory() as s:
        order = s.scalars(select(Order)).one()
        assert (order.state, order.hold_reason) == ("held", "needs_mapping"), (order.state, order.hold_reason)
        return {"id": order.id, "store_id": store["id"], "name": order.name,
                "lines": order.canonical["lines"]}


@pytest.fixture
def held_order(ui_client, ui_app, session_factory):
    return make_held_order(ui_client, ui_app.extensions["cj_bridge"], session_factory)


def make_dead_job(session_factory, *, kind: str = "purge_old_events") -> int:
    with session_factory() as s:
        job = Job(kind=kind, payload={}, status="dead", attempts=8, max_attempts=8, run_at=utcnow(),
                  last_error="RuntimeError at purge.py:12", finished_at=utcnow())
        s.add(job)
        s.commit()
        return job.id
