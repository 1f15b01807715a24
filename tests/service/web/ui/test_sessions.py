"""Admin page sessions: 12 hours from sign-in (not from the last use), sign-out ends every copy, sign-ins logged."""
from __future__ import annotations

import logging
from datetime import timedelta
from email.utils import parsedate_to_datetime

import pytest

from service.storage.models import CjAccountState
from service.timeutil import utcnow
from service.web.ui import sign_in as sign_in_module
from tests.conftest import ADMIN_TOKEN
from tests.service.web.ui.conftest import csrf_of, sign_in

COOKIE = "cjb_admin"


def _cookie_value(client) -> str:
    return client.get_cookie(COOKIE, path="/admin/ui").value


def _sign_out(client):
    page = client.get("/admin/ui/").get_data(as_text=True)
    return client.post("/admin/ui/sign-out", data={"csrf_token": csrf_of(page)})


def _refused(res) -> bool:
    return res.status_code == 302 and res.headers["Location"].startswith("/admin/ui/sign-in")


def test_a_cookie_copied_before_sign_out_is_refused_after_it(ui_app, signed_in):
    copied = _cookie_value(signed_in)
    other_browser = ui_app.test_client()
    sign_in(other_browser)
    assert _sign_out(signed_in).status_code == 302
    replay = ui_app.test_client()
    replay.set_cookie(COOKIE, copied, path="/admin/ui")
    assert _refused(replay.get("/admin/ui/"))
    assert _refused(other_browser.get("/admin/ui/jobs"))  # signed in before the sign-out: ended too
    sign_in(replay)  # signing in again afterwards works
    assert replay.get("/admin/ui/").status_code == 200


def test_sign_out_is_kept_in_the_database_and_never_moved_back(ui_app, signed_in, session_factory):
    _sign_out(signed_in)
    with session_factory() as s:
        first = s.get(CjAccountState, 1).ui_sessions_valid_after
    assert first is not None and utcnow() - first < timedelta(minutes=1)
    from service.web.ui.session_end import end_sessions_signed_in_before
    with session_factory() as s:
        end_sessions_signed_in_before(s, first - timedelta(hours=1))  # a process whose clock is behind
        s.commit()
        assert s.get(CjAccountState, 1).ui_sessions_valid_after == first


def test_a_refused_post_says_sign_in_first(ui_app, signed_in):
    page = signed_in.get("/admin/ui/jobs").get_data(as_text=True)
    copied = _cookie_value(signed_in)
    _sign_out(signed_in)
    replay = ui_app.test_client()
    replay.set_cookie(COOKIE, copied, path="/admin/ui")
    res = replay.post("/admin/ui/jobs/1/retry", data={"csrf_token": csrf_of(page)})
    assert res.status_code == 401 and "Sign in first" in res.get_data(as_text=True)


def test_a_session_older_than_12_hours_is_refused_even_if_used_recently(ui_client, monkeypatch):
    now = utcnow()
    monkeypatch.setattr(sign_in_module, "utcnow", lambda: now - timedelta(hours=11))
    sign_in(ui_client)
    monkeypatch.setattr(sign_in_module, "utcnow", lambda: now - timedelta(minutes=1))
    assert ui_client.get("/admin/ui/").status_code == 200  # used a minute ago, 10 h 59 min after sign-in
    monkeypatch.setattr(sign_in_module, "utcnow", lambda: now + timedelta(hours=1, seconds=1))
    assert _refused(ui_client.get("/admin/ui/"))  # 12 h after sign-in: over, however recent the last use


def test_a_signed_in_get_does_not_extend_the_cookie(ui_client, monkeypatch):
    signed_in_at = utcnow() - timedelta(hours=1)
    monkeypatch.setattr(sign_in_module, "utcnow", lambda: signed_in_at)
    expiry = _expiry(sign_in(ui_client))
    assert abs(expiry - (signed_in_at + timedelta(hours=12))) < timedelta(seconds=2)
    res = ui_client.get("/admin/ui/")
    assert res.status_code == 200 and "Set-Cookie" not in res.headers  # not re-sent with 12 more hours
    # A request that does change the session (a flash) re-sends it, with the sign-in's expiry still, an hour
    # short of the 12 hours from now that Flask would give it.
    page = ui_client.get("/admin/ui/shipping-rules").get_data(as_text=True)
    res = ui_client.post("/admin/ui/shipping-rules", data={"csrf_token": csrf_of(page), "country_code": "US",
                                                          "logistic_names": "CJPacket Ordinary"})
    assert res.status_code == 302 and _expiry(res) == expiry


def _expiry(res):
    cookie = next(v for v in res.headers.getlist("Set-Cookie") if v.startswith(COOKIE + "="))
    return parsedate_to_datetime(cookie.split("Expires=")[1].split(";")[0]).replace(tzinfo=None)


def test_a_cookie_without_a_sign_in_time_is_refused(ui_app):
    """A session signed before the sign-in time was kept (or one forged with {"admin": true}) is not enough."""
    client = ui_app.test_client()
    serializer = ui_app.session_interface.get_signing_serializer(ui_app)
    client.set_cookie(COOKIE, serializer.dumps({"admin": True}), path="/admin/ui")
    assert _refused(client.get("/admin/ui/"))


@pytest.mark.parametrize("token, outcome, level", [(ADMIN_TOKEN, "ok", logging.INFO),
                                                   ("not-the-token-typed", "wrong_token", logging.WARNING)])
def test_each_sign_in_is_logged_without_the_token(ui_client, caplog, token, outcome, level):
    with caplog.at_level(logging.INFO, logger="cj_bridge.admin_ui"):
        sign_in(ui_client, token=token)
    lines = [r for r in caplog.records if r.getMessage() == "admin_ui_sign_in"]
    assert len(lines) == 1
    assert lines[0].name == "cj_bridge.admin_ui" and lines[0].levelno == level
    assert lines[0].fields == {"outcome": outcome, "client": "127.0.0.1", "forwarded_for": None}
    assert token not in caplog.text and all(token not in str(vars(r)) for r in caplog.records)
