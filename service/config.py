"""Service configuration: every environment variable is read and checked here, in one function."""
from __future__ import annotations

import os
import sys
from decimal import Decimal, InvalidOperation
from dataclasses import dataclass, field, asdict
from typing import Mapping

CJ_PRODUCTION_BASE_URL = "https://developers.cjdropshipping.com/api2.0/v1"
DEFAULT_SHOPIFY_API_VERSION = "2026-10"


class ConfigError(RuntimeError):
    """Raised at start when the environment cannot make a working service; the message names the variable."""


# What a process entry point (web, worker, CLI) exits with when its configuration is wrong.
CONFIG_ERROR_EXIT_CODE = 2


def exit_for_config_error(exc: ConfigError) -> None:
    """End the process with one line naming the variable and the fix: a traceback would bury it."""
    print(f"CJ Bridge cannot start: {exc}", file=sys.stderr, flush=True)
    raise SystemExit(CONFIG_ERROR_EXIT_CODE)


def _bool(name: str, value: str | None, default: bool) -> bool:
    if value is None or value.strip() == "":
        return default
    v = value.strip().lower()
    if v in ("1", "true", "yes", "on"):
        return True
    if v in ("0", "false", "no", "off"):
        return False
    raise ConfigError(f"{name} must be true or false (or 1/0, yes/no, on/off); got {value!r}")


ENVIRONMENTS = ("development", "production")
STRONG_SECRET_CHARS = 32
# Values printed in this project's README and code: known to everyone, so never a production secret.
_PUBLISHED_SECRETS = {"dev-admin-token", "dev-secret-key-change-me", "test-admin-token", "change-me"}


def weak_secret(value: str) -> str | None:
    """Why value cannot protect a production deployment, or None."""
    if value.lower() in _PUBLISHED_SECRETS:
        return "is a published example value"
    if len(value) < STRONG_SECRET_CHARS:
        return f"is shorter than {STRONG_SECRET_CHARS} characters"
    if len(set(value)) < 12:
        return "repeats too few characters to be random"
    return None


def _number(name: str, value: str | None, default, kind):
    if value is None or value.strip() == "":
        return default
    try:
        parsed = kind(value)
    except ValueError:
        raise ConfigError(f"{name} must be a number, got {value!r}") from None
    if parsed <= 0:
        raise ConfigError(f"{name} must be positive, got {value!r}")
    return parsed


def normalize_database_url(url: str) -> str:
    """Accept Heroku's postgres:// form and select the psycopg 3 driver."""
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://"):]
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://"):]
    return url


@dataclass(frozen=True)
class Settings:
    database_url: str
    secret_key: str
    admin_token: str
    cj_api_base_url: str
    cj_api_key: str
    cj_qps: float | None  # None: the account's own qpsLimit (GET /setting/get), else 1
    cj_auto_pay: bool
    cj_dry_run: bool
    cj_from_country: str
    public_base_url: str
    max_webhook_bytes: int
    log_level: str
    shopify_api_version: str
    production: bool
    http_timeout: float
    job_lease_seconds: int
    job_max_attempts: int
    job_backoff_seconds: float
    cj_sync_stale_minutes: int
    balance_retry_minutes: int
    worker_poll_seconds: float
    event_retention_days: int
    store_poll_minutes: int
    webhook_grace_minutes: int
    freight_cache_hours: float = 6.0
    freight_zip_countries: tuple[str, ...] = ()
    cj_warehouses: dict = field(default_factory=dict)  # origin country → destination countries it serves
    stock_cache_minutes: int = 30
    cj_daily_points: int = 50000
    carrier_codes: dict = field(default_factory=dict)
    low_balance_usd: Decimal | None = None  # warn when the CJ wallet holds less (LOW_BALANCE_USD)
    wallet_read_minutes: int = 30
    stock_sync: str = "on"  # on, off, dry_run (STOCK_SYNC): CJ's stock written to the stores, or only recorded
    stock_poll_points_share: float = 0.2  # at most this share of the daily CJ points goes to the stock poll
    stock_poll_minutes: int = 10
    margin_alert_percent: Decimal = Decimal(15)  # a mapping whose margin falls under this is flagged
    cj_order_sweep_days: int = 45  # how far back the daily sweep of CJ's order list looks (CJ_ORDER_SWEEP_DAYS)
    alert_webhook_url: str = ""  # Slack-compatible incoming webhook; alerts are POSTed there once each
    alert_no_tracking_days: int = 10
    alert_held_hours: int = 24  # platform → {CJ logistic name key → carrier code}
    instance_path: str = ""  # the data folder (CJ_BRIDGE_INSTANCE_PATH): the default SQLite file lives there
    extra: dict = field(default_factory=dict)

    def as_flask_config(self) -> dict:
        data = asdict(self)
        data.pop("extra")
        # No Flask SECRET_KEY: the service has no cookie sessions (the admin API takes a bearer token),
        # and without one Flask skips building a session signer for every request.
        data.pop("secret_key")
        out = {"SETTINGS": self, "MAX_CONTENT_LENGTH": None}
        out.update({k.upper(): v for k, v in data.items()})
        return out


def load_settings(env: Mapping[str, str] | None = None, *, instance_path: str | None = None) -> Settings:
    """Build Settings from an environment mapping (os.environ by default).

    In production mode (CJ_BRIDGE_ENV=production) the secrets that protect the service must be
    set; a missing one stops the start with a message naming the variable.
    """
    env = dict(os.environ if env is None else env)
    environment = (env.get("CJ_BRIDGE_ENV") or "development").strip().lower()
    if environment not in ENVIRONMENTS:
        # Fail closed: a typo ("prod", "Production ") must not run with the development defaults.
        raise ConfigError(f"CJ_BRIDGE_ENV must be one of {', '.join(ENVIRONMENTS)}; got {environment!r}")
    production = environment == "production"
    # The variable wins over the caller's default so web and worker agree (the Docker image sets /data).
    instance_path = env.get("CJ_BRIDGE_INSTANCE_PATH") or instance_path or os.path.join(os.getcwd(), "instance")

    db_url = env.get("DATABASE_URL", "").strip()
    if not db_url:
        os.makedirs(instance_path, exist_ok=True)
        db_url = "sqlite:///" + os.path.join(os.path.abspath(instance_path), "cj_bridge.sqlite3")
    db_url = normalize_database_url(db_url)

    missing = []
    secret_key = env.get("SECRET_KEY", "").strip()
    admin_token = env.get("ADMIN_TOKEN", "").strip()
    if production:
        if not secret_key:
            missing.append("SECRET_KEY")
        if not admin_token:
            missing.append("ADMIN_TOKEN")
        if not env.get("DATABASE_URL", "").strip():
            missing.append("DATABASE_URL")
    if missing:
        raise ConfigError("missing required environment variable(s) in production mode: " + ", ".join(missing)
                          + ": set them in the environment (README → Configuration), or set "
                          "CJ_BRIDGE_ENV=development to try the service locally")
    if production:
        for name, value in (("SECRET_KEY", secret_key), ("ADMIN_TOKEN", admin_token)):
            problem = weak_secret(value)
            if problem:
                raise ConfigError(f"{name} {problem} in production mode: use at least {STRONG_SECRET_CHARS} "
                                  "random characters, e.g. from `python3 -c 'import secrets; "
                                  "print(secrets.token_urlsafe(32))'`")
    # Development defaults let the quick start run with no account anywhere.
    secret_key = secret_key or "dev-secret-key-change-me"
    admin_token = admin_token or "dev-admin-token"

    cj_api_key = env.get("CJ_API_KEY", "").strip()
    dry_run_raw = env.get("CJ_DRY_RUN")
    cj_dry_run = _bool("CJ_DRY_RUN", dry_run_raw, default=not cj_api_key)
    cj_auto_pay = _bool("CJ_AUTO_PAY", env.get("CJ_AUTO_PAY"), default=False)
    if not cj_dry_run and not cj_api_key:
        raise ConfigError("CJ_DRY_RUN is off but CJ_API_KEY is not set: set CJ_API_KEY or turn dry-run on")

    log_level = env.get("LOG_LEVEL", "INFO").strip().upper() or "INFO"
    if log_level not in ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"):
        raise ConfigError(f"LOG_LEVEL must be one of DEBUG, INFO, WARNING, ERROR, CRITICAL; got {log_level!r}")

    return Settings(
        database_url=db_url,
        secret_key=secret_key,
        admin_token=admin_token,
        cj_api_base_url=(env.get("CJ_API_BASE_URL", "").strip() or CJ_PRODUCTION_BASE_URL).rstrip("/"),
        cj_api_key=cj_api_key,
        cj_qps=_number("CJ_QPS", env.get("CJ_QPS"), None, float),
        cj_auto_pay=cj_auto_pay,
        cj_dry_run=cj_dry_run,
        cj_from_country=(env.get("CJ_FROM_COUNTRY", "").strip() or "CN").upper(),
        public_base_url=env.get("PUBLIC_BASE_URL", "").strip().rstrip("/"),
        max_webhook_bytes=_number("MAX_WEBHOOK_BYTES", env.get("MAX_WEBHOOK_BYTES"), 2 * 1024 * 1024, int),
        log_level=log_level,
        shopify_api_version=env.get("SHOPIFY_API_VERSION", "").strip() or DEFAULT_SHOPIFY_API_VERSION,
        production=production,
        http_timeout=_number("HTTP_TIMEOUT", env.get("HTTP_TIMEOUT"), 20.0, float),
        job_lease_seconds=_number("JOB_LEASE_SECONDS", env.get("JOB_LEASE_SECONDS"), 120, int),
        job_max_attempts=_number("JOB_MAX_ATTEMPTS", env.get("JOB_MAX_ATTEMPTS"), 8, int),
        job_backoff_seconds=_number("JOB_BACKOFF_SECONDS", env.get("JOB_BACKOFF_SECONDS"), 15.0, float),
        cj_sync_stale_minutes=_number("CJ_SYNC_STALE_MINUTES", env.get("CJ_SYNC_STALE_MINUTES"), 360, int),
        balance_retry_minutes=_number("BALANCE_RETRY_MINUTES", env.get("BALANCE_RETRY_MINUTES"), 30, int),
        worker_poll_seconds=_number("WORKER_POLL_SECONDS", env.get("WORKER_POLL_SECONDS"), 1.0, float),
        event_retention_days=_number("EVENT_RETENTION_DAYS", env.get("EVENT_RETENTION_DAYS"), 30, int),
        store_poll_minutes=_number("STORE_POLL_MINUTES", env.get("STORE_POLL_MINUTES"), 5, int),
        webhook_grace_minutes=_number("WEBHOOK_GRACE_MINUTES", env.get("WEBHOOK_GRACE_MINUTES"), 10, int),
        freight_cache_hours=_number("FREIGHT_CACHE_HOURS", env.get("FREIGHT_CACHE_HOURS"), 6.0, float),
        freight_zip_countries=_country_list("FREIGHT_ZIP_COUNTRIES", env.get("FREIGHT_ZIP_COUNTRIES", "")),
        cj_warehouses=_warehouses(env.get("CJ_WAREHOUSES")),
        stock_cache_minutes=_number("STOCK_CACHE_MINUTES", env.get("STOCK_CACHE_MINUTES"), 30, int),
        cj_daily_points=_number("CJ_DAILY_POINTS", env.get("CJ_DAILY_POINTS"), 50000, int),
        carrier_codes=_carrier_codes(env.get("CARRIER_CODES")),
        low_balance_usd=_money("LOW_BALANCE_USD", env.get("LOW_BALANCE_USD")),
        wallet_read_minutes=_number("WALLET_READ_MINUTES", env.get("WALLET_READ_MINUTES"), 30, int),
        stock_sync=_stock_sync(env.get("STOCK_SYNC")),
        stock_poll_points_share=_share("STOCK_POLL_POINTS_SHARE", env.get("STOCK_POLL_POINTS_SHARE"), 0.2),
        margin_alert_percent=Decimal(str(_number("MARGIN_ALERT_PERCENT", env.get("MARGIN_ALERT_PERCENT"), 15, float))),
        stock_poll_minutes=_number("STOCK_POLL_MINUTES", env.get("STOCK_POLL_MINUTES"), 10, int),
        cj_order_sweep_days=_number("CJ_ORDER_SWEEP_DAYS", env.get("CJ_ORDER_SWEEP_DAYS"), 45, int),
        alert_webhook_url=_alert_url(env.get("ALERT_WEBHOOK_URL"), production),
        alert_no_tracking_days=_number("ALERT_NO_TRACKING_DAYS", env.get("ALERT_NO_TRACKING_DAYS"), 10, int),
        alert_held_hours=_number("ALERT_HELD_HOURS", env.get("ALERT_HELD_HOURS"), 24, int),
        instance_path=os.path.abspath(instance_path),
    )


def _stock_sync(value: str | None) -> str:
    text = (value or "on").strip().lower().replace("-", "_")
    if text not in ("on", "off", "dry_run"):
        raise ConfigError(f"STOCK_SYNC must be on, off or dry_run, got {value!r}")
    return text


def _share(name: str, value: str | None, default: float) -> float:
    if value is None or value.strip() == "":
        return default
    try:
        share = float(value)
    except ValueError:
        raise ConfigError(f"{name} must be a share between 0 and 1, got {value!r}") from None
    if not 0 <= share <= 1:
        raise ConfigError(f"{name} must be a share between 0 and 1, got {value!r}")
    return share


def _money(name: str, value: str | None) -> Decimal | None:
    if value is None or not value.strip():
        return None
    try:
        amount = Decimal(value.strip())
    except InvalidOperation:
        raise ConfigError(f"{name} must be an amount in USD such as 50 or 49.90; got {value!r}") from None
    if not amount.is_finite() or amount < 0:
        raise ConfigError(f"{name} must be an amount in USD such as 50 or 49.90; got {value!r}")
    return amount


def _alert_url(value: str | None, production: bool) -> str:
    url = (value or "").strip()
    if url and not (url.startswith("https://") or (not production and url.startswith("http://"))):
        raise ConfigError("ALERT_WEBHOOK_URL must be an https:// address (a Slack-compatible incoming webhook)")
    return url


def carrier_key(name: str | None) -> str:
    """A CJ logistic name as tables match it: letters and digits, lower case ("USPS+" → "usps")."""
    return "".join(c for c in (name or "").lower() if c.isalnum())


def _carrier_codes(value: str | None) -> dict:
    """'ebay:CJPacket Ordinary=USPS; shopify:CJPacket Ordinary=USPS' → {"ebay": {"cjpacketordinary": "USPS"}, …}."""
    out: dict = {}
    for part in (value or "").split(";"):
        if not part.strip():
            continue
        head, sep, code = part.partition("=")
        platform, colon, name = head.partition(":")
        if not (sep and colon and platform.strip() and carrier_key(name) and code.strip()):
            raise ConfigError(f"CARRIER_CODES: '{part.strip()}' must be 'platform:CJ logistic name=carrier code', "
                              "e.g. 'ebay:CJPacket Ordinary=USPS; shopify:CJPacket Ordinary=USPS'")
        out.setdefault(platform.strip().lower(), {})[carrier_key(name)] = code.strip()
    return out


# CJ's local warehouses and the destinations each ships to, unless CJ_WAREHOUSES says otherwise.
DEFAULT_WAREHOUSES = "US: US CA; DE: DE AT BE FR IT NL ES PL CZ DK LU; GB: GB"


def _country_list(name: str, value: str) -> tuple[str, ...]:
    codes = tuple(c.strip().upper() for c in value.replace(",", " ").split() if c.strip())
    bad = [c for c in codes if len(c) != 2 or not c.isalpha()]
    if bad:
        raise ConfigError(f"{name} must list ISO-3166 alpha-2 country codes (e.g. US,CA); got {', '.join(bad)}")
    return codes


def _warehouses(value: str | None) -> dict:
    """'US: US CA; DE: DE FR' → {"US": ("US", "CA"), "DE": ("DE", "FR")}; 'off' → {} (always CJ_FROM_COUNTRY)."""
    value = DEFAULT_WAREHOUSES if value is None or not value.strip() else value
    if value.strip().lower() == "off":
        return {}
    out = {}
    for part in value.split(";"):
        if not part.strip():
            continue
        origin, sep, destinations = part.partition(":")
        if not sep:
            raise ConfigError(f"CJ_WAREHOUSES: '{part.strip()}' must be 'ORIGIN: DEST DEST', e.g. "
                              "'US: US CA; DE: DE FR' (or 'off')")
        out[_country_list("CJ_WAREHOUSES", origin)[0] if origin.strip() else ""] = \
            _country_list("CJ_WAREHOUSES", destinations)
    if "" in out:
        raise ConfigError("CJ_WAREHOUSES: a warehouse entry has no origin country")
    return out
