"""The start banner: the bound address, the admin token (development only), dry-run, the database."""
from __future__ import annotations

from service.config import load_settings
from service.observability.start_banner import start_banner

STRONG = "Zx8-q2LmN4vR7tYp0wK3sJ6hG9fD1cB5aE"


def test_production_never_prints_secrets_and_says_when_orders_go_live(tmp_path):
    settings = load_settings({"CJ_BRIDGE_ENV": "production", "SECRET_KEY": STRONG, "ADMIN_TOKEN": STRONG[::-1],
                              "DATABASE_URL": "postgres://bridge:db-password-9@db.internal:5432/cj",
                              "CJ_API_KEY": "CJ1@api@k", "CJ_AUTO_PAY": "true"}, instance_path=str(tmp_path))
    text = "\n".join(start_banner(settings, listeners=["http://0.0.0.0:8000"]))
    assert "production mode" in text and "http://0.0.0.0:8000  (every interface" in text
    assert STRONG[::-1] not in text and "db-password-9" not in text and "CJ1@api@k" not in text
    assert "LIVE" in text and "paid from the CJ wallet" in text
    assert "postgresql+psycopg://bridge:***@db.internal:5432/cj" in text


def test_development_prints_the_published_token_and_dry_run(tmp_path):
    settings = load_settings({}, instance_path=str(tmp_path))
    text = "\n".join(start_banner(settings, listeners=["http://127.0.0.1:8000"]))
    assert "Bearer dev-admin-token" in text and "dry-run ON" in text and "set CJ_API_KEY to go live" in text


def test_a_chosen_development_token_is_not_printed(tmp_path):
    settings = load_settings({"ADMIN_TOKEN": "my-own-token-123"}, instance_path=str(tmp_path))
    text = "\n".join(start_banner(settings, listeners=["http://127.0.0.1:8000"]))
    assert "my-own-token-123" not in text and "ADMIN_TOKEN" in text
