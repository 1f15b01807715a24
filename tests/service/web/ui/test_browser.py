"""The admin page in a real browser (Playwright driving Debian's chromium) against the real app and database."""
from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from service.storage.models import Job, Order, SkuMapping
from tests.conftest import ADMIN_TOKEN, run_jobs
from tests.service.web.ui.conftest import make_dead_job
from tests.service.web.ui.live_server import CHROMIUM, chromium_or_skip, serving


@pytest.fixture
def browser_page(ui_app):
    sync_playwright = chromium_or_skip()
    with serving(ui_app) as base, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True)
        try:
            context = browser.new_context(base_url=base)
            page = context.new_page()
            page.set_default_timeout(15000)
            yield page
        finally:
            browser.close()


def _sign_in(page, token: str = ADMIN_TOKEN) -> None:
    page.get_by_label("Admin token").fill(token)
    page.get_by_role("button", name="Sign in").click()


def test_a_wrong_token_is_refused(browser_page):
    page = browser_page
    page.goto("/admin/ui/")
    assert page.url.split("?")[0].endswith("/admin/ui/sign-in")
    _sign_in(page, "wrong-token")
    assert page.get_by_role("alert").inner_text() == "That token is not the admin token."
    page.goto("/admin/ui/jobs")
    assert "/admin/ui/sign-in" in page.url


def test_sign_in_map_the_held_order_and_watch_it_leave_needs_mapping(browser_page, ui_app, held_order,
                                                                     session_factory):
    page = browser_page
    page.goto(f"/admin/ui/orders/{held_order['id']}")
    _sign_in(page)  # back to the order it was asked for
    assert page.locator("#hold-reason").inner_text() == "needs_mapping"
    page.get_by_role("link", name="Orders", exact=True).click()
    assert page.get_by_role("list", name="Orders by state").get_by_text("held").is_visible()
    page.get_by_role("link", name=held_order["name"]).click()
    for i, line in enumerate(held_order["lines"]):
        page.get_by_role("group", name=re.compile(re.escape(line["title"]))).get_by_label(
            "CJ variant id (vid)").fill(f"24091508123456789{i}")
    page.get_by_role("button", name="Save mapping and resume").click()
    assert "Saved 2 mapping(s); 1 held order(s) resume." in page.get_by_role("status").inner_text()
    with session_factory() as s:
        assert len(s.scalars(select(SkuMapping)).all()) == 2

    run_jobs(ui_app.extensions["cj_bridge"])  # the worker's turn
    page.reload()
    assert page.locator("#hold-reason").inner_text() == "dry_run"  # past mapping, stopped by dry-run only
    with session_factory() as s:
        assert s.get(Order, held_order["id"]).hold_reason == "dry_run"


def test_retry_a_dead_job(browser_page, session_factory):
    job_id = make_dead_job(session_factory)
    page = browser_page
    page.goto("/admin/ui/jobs")
    _sign_in(page)
    page.get_by_role("button", name=f"Retry job {job_id}").click()
    assert f"Job {job_id} (purge_old_events) queued again." in page.get_by_role("status").inner_text()
    with session_factory() as s:
        assert s.get(Job, job_id).status == "queued"


def test_a_form_posted_without_its_csrf_token_is_refused(browser_page, session_factory):
    job_id = make_dead_job(session_factory)
    page = browser_page
    page.goto("/admin/ui/jobs")
    _sign_in(page)
    # The signed-in browser's own cookie, without the form's token: what a forged cross-site form would send.
    page.evaluate("document.querySelector('#job-%d input[name=csrf_token]').remove()" % job_id)
    page.get_by_role("button", name=f"Retry job {job_id}").click()
    assert "CSRF" in page.get_by_role("alert").inner_text()
    answer = page.request.post(f"/admin/ui/jobs/{job_id}/retry", form={"csrf_token": "forged"})
    assert answer.status == 403
    with session_factory() as s:
        assert s.get(Job, job_id).status == "dead"


def test_pages_fit_a_phone(browser_page, held_order):
    page = browser_page
    page.set_viewport_size({"width": 375, "height": 740})
    page.goto("/admin/ui/")
    _sign_in(page)
    for path in ("/admin/ui/", f"/admin/ui/orders/{held_order['id']}", "/admin/ui/stores", "/admin/ui/money",
                 "/admin/ui/health", "/admin/ui/shipping-rules", "/admin/ui/jobs"):
        page.goto(path)
        # Wide tables scroll inside their own box; the page itself never scrolls sideways.
        assert page.evaluate("document.documentElement.scrollWidth") <= 375, path
