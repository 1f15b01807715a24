"""StoreDirectory: one lookup per store at a time, stale entries served while one request refreshes them."""
from __future__ import annotations

import threading

import pytest

from service.intake import store_directory
from service.intake.store_directory import StoreDirectory
from tests.conftest import SHOP_DOMAIN, SHOPIFY_SECRET


class CountingSessions:
    """A session factory that counts lookups and can hold them until released."""

    def __init__(self, session_factory):
        self.session_factory = session_factory
        self.opened = 0
        self.entered = threading.Event()
        self.release = threading.Event()
        self.release.set()
        self.fail = False

    def __call__(self):
        self.opened += 1
        self.entered.set()
        assert self.release.wait(10)
        if self.fail:
            raise RuntimeError("database unreachable")
        return self.session_factory()


@pytest.fixture
def directory(runtime, shopify_store, session_factory):
    sessions = CountingSessions(session_factory)
    return StoreDirectory(sessions, runtime.stores.box), sessions


def find_in_threads(directory: StoreDirectory, count: int) -> tuple[list, list[threading.Thread]]:
    found: list = []
    threads = [threading.Thread(target=lambda: found.append(directory.find("shopify", SHOP_DOMAIN)))
               for _ in range(count)]
    for thread in threads:
        thread.start()
    return found, threads


def test_requests_missing_at_once_share_one_lookup(directory):
    stores, sessions = directory
    sessions.release.clear()
    found, threads = find_in_threads(stores, 8)
    assert sessions.entered.wait(5)
    threading.Event().wait(0.1)  # the other seven are waiting on the first lookup by now
    sessions.release.set()
    for thread in threads:
        thread.join(10)
    assert sessions.opened == 1
    assert len(found) == 8 and all(store is not None and store.secrets == (SHOPIFY_SECRET,) for store in found)


def test_an_expired_entry_is_served_while_one_request_refreshes_it(directory, monkeypatch):
    stores, sessions = directory
    first = stores.find("shopify", SHOP_DOMAIN)
    monkeypatch.setattr(store_directory.time, "monotonic", lambda: 10**9)  # everything has expired
    sessions.release.clear()
    sessions.entered.clear()
    refresher = threading.Thread(target=stores.find, args=("shopify", SHOP_DOMAIN))
    refresher.start()
    assert sessions.entered.wait(5)
    assert stores.find("shopify", SHOP_DOMAIN) == first  # not held up by the refresh in flight
    sessions.release.set()
    refresher.join(10)
    assert sessions.opened == 2


def test_waiters_look_up_themselves_when_the_shared_lookup_fails(directory):
    stores, sessions = directory
    sessions.release.clear()
    sessions.fail = True
    errors: list = []

    def find():
        try:
            stores.find("shopify", SHOP_DOMAIN)
        except RuntimeError as exc:
            errors.append(exc)
    threads = [threading.Thread(target=find) for _ in range(3)]
    for thread in threads:
        thread.start()
    assert sessions.entered.wait(5)
    threading.Event().wait(0.1)
    sessions.release.set()
    for thread in threads:
        thread.join(10)
    assert len(errors) == 3 and sessions.opened == 3  # each got its own answer: an error, not a stale None
    sessions.fail = False
    assert stores.find("shopify", SHOP_DOMAIN) is not None  # nothing cached from the failures


def test_an_unknown_store_is_remembered_briefly(directory):
    stores, sessions = directory
    assert stores.find("shopify", "nobody.myshopify.com") is None
    assert stores.find("shopify", "nobody.myshopify.com") is None
    assert sessions.opened == 1


def test_a_lookup_overlapping_an_admin_change_is_not_cached(directory):
    stores, sessions = directory
    sessions.release.clear()
    reader = threading.Thread(target=stores.find, args=("shopify", SHOP_DOMAIN))
    reader.start()
    assert sessions.entered.wait(5)
    stores.forget("shopify", SHOP_DOMAIN)  # e.g. the webhook secret was rotated while the lookup ran
    sessions.release.set()
    reader.join(10)
    stores.find("shopify", SHOP_DOMAIN)
    assert sessions.opened == 2  # the overlapping result was used once, not kept
