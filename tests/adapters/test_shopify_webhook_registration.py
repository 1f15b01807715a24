"""Shopify webhook subscriptions through the Admin API: list, create what is missing, re-point, never twice."""
from __future__ import annotations

import json

import responses

from tests.conftest import SHOP_DOMAIN, admin_headers, run_jobs

GRAPHQL = f"https://{SHOP_DOMAIN}/admin/api/2026-10/graphql.json"
OURS = "https://bridge.example.com/webhooks/shopify"


class Subscriptions:
    def __init__(self, rsps, existing):
        self.nodes = list(existing)
        self.operations: list[str] = []
        rsps.add_callback("POST", GRAPHQL, callback=self._handle)

    def _handle(self, request):
        body = json.loads(request.body)
        query, variables = body["query"], body["variables"]
        if "webhookSubscriptionCreate(" in query:
            self.operations.append(f"create {variables['topic']}")
            node = {"id": f"gid://shopify/WebhookSubscription/{len(self.nodes) + 1}", "topic": variables["topic"],
                    "uri": variables["webhookSubscription"]["uri"]}
            self.nodes.append(node)
            return 200, {}, json.dumps({"data": {"webhookSubscriptionCreate": {"webhookSubscription": node,
                                                                               "userErrors": []}}})
        if "webhookSubscriptionUpdate(" in query:
            node = next(n for n in self.nodes if n["id"] == variables["id"])
            self.operations.append(f"update {node['topic']}")
            node["uri"] = variables["webhookSubscription"]["uri"]
            return 200, {}, json.dumps({"data": {"webhookSubscriptionUpdate": {"webhookSubscription": node,
                                                                               "userErrors": []}}})
        self.operations.append("list")
        return 200, {}, json.dumps({"data": {"webhookSubscriptions": {"nodes": self.nodes}}})


@responses.activate
def test_registration_creates_the_missing_topics_and_repoints_ours(client, shopify_store, runtime,
                                                                  session_factory):
    """Issue 15 (6): Shopify subscriptions had to be declared by hand."""
    subs = Subscriptions(responses.mock, [
        {"id": "gid://shopify/WebhookSubscription/1", "topic": "ORDERS_CREATE", "uri": OURS},
        {"id": "gid://shopify/WebhookSubscription/2", "topic": "ORDERS_PAID",
         "uri": "https://old-bridge.example.com/webhooks/shopify"}])
    res = client.post(f"/admin/stores/{shopify_store['id']}/webhooks", headers=admin_headers())
    assert res.status_code == 202
    run_jobs(runtime)
    assert subs.operations == ["list", "update ORDERS_PAID", "create ORDERS_UPDATED", "create ORDERS_EDITED",
                               "create ORDERS_CANCELLED", "create ORDERS_DELETE", "create APP_UNINSTALLED"]
    store = client.get(f"/admin/stores/{shopify_store['id']}", headers=admin_headers()).get_json()["data"]
    registration = store["adapter_state"]["webhook_registration"]
    assert registration["already_present"] == ["ORDERS_CREATE"] and registration["reactivated"] == ["ORDERS_PAID"]
    # Again: nothing to do.
    subs.operations.clear()
    client.post(f"/admin/stores/{shopify_store['id']}/webhooks", headers=admin_headers())
    run_jobs(runtime)
    assert subs.operations == ["list"]
    assert all(n["uri"] == OURS for n in subs.nodes) and len(subs.nodes) == 7
