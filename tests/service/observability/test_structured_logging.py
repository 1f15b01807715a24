"""Structured logging: what DEBUG never shows."""
from __future__ import annotations

import logging

from service.observability.structured_logging import configure_logging


def test_debug_logging_never_shows_request_urls_with_keys_in_them():
    """Issue 22 (8): LOG_LEVEL=DEBUG logged the WooCommerce consumer secret through urllib3's URLs."""
    configure_logging("DEBUG")
    try:
        assert not logging.getLogger("urllib3").isEnabledFor(logging.DEBUG)
        assert not logging.getLogger("urllib3.connectionpool").isEnabledFor(logging.DEBUG)
        assert logging.getLogger("service").isEnabledFor(logging.DEBUG)
    finally:
        configure_logging("WARNING")
