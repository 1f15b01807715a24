"""Adapter discovery: every platform module registers itself."""
from adapters import get_adapter, platforms


def test_every_platform_module_is_registered():
    assert platforms() == ["ebay", "shopify", "tiktok_shop", "woocommerce"]


def test_every_adapter_has_the_whole_interface():
    names = ["identify", "unsigned_delivery_topic", "normalize_domain", "verify", "delivery_keys", "event_kind",
             "privacy_request", "normalize", "deleted_order_id", "order_version", "fetch_order",
             "list_changed_orders", "register_webhooks", "write_back", "changed_order_id", "request_access_token",
             "named_shop", "signed_time", "set_stock"]
    for platform in platforms():
        adapter = get_adapter(platform)
        assert adapter.platform == platform
        assert all(callable(getattr(adapter, n, None)) for n in names), platform
        assert isinstance(adapter.supports_polling, bool) and isinstance(adapter.can_register_webhooks, bool)
        assert isinstance(adapter.cj_platform, str) and adapter.cj_platform
        assert isinstance(adapter.can_set_stock, bool)
        assert isinstance(adapter.orders_by_polling, bool) and (adapter.supports_polling or not adapter.orders_by_polling)
