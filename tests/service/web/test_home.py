"""GET /: a page a person can read, in a browser or with curl."""
from __future__ import annotations


def test_a_browser_gets_a_page_saying_what_this_is(client):
    """Issue 23 (3): GET / answered a bare 404."""
    res = client.get("/", headers={"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"})
    assert res.status_code == 200 and res.mimetype == "text/html"
    page = res.get_data(as_text=True)
    assert "<h1>CJ Bridge</h1>" in page and "/readyz" in page and "/admin/orders" in page
    assert "<code>/admin/ui</code>" in page and "TikTok Shop" in page


def test_curl_gets_the_same_in_the_json_shape(client):
    res = client.get("/")
    body = res.get_json()
    assert res.status_code == 200 and body["success"] is True
    assert body["data"]["service"] == "CJ Bridge" and "/healthz" in body["data"]["endpoints"]
