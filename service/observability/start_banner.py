"""The lines a person reads when the web process is up: where it listens, how to call it, what it will do."""
from __future__ import annotations

from sqlalchemy.engine import make_url

from service.config import Settings

DEVELOPMENT_ADMIN_TOKEN = "dev-admin-token"


def start_banner(settings: Settings, *, listeners: list[str]) -> list[str]:
    """listeners: the addresses actually bound (gunicorn's, after binding), e.g. ['http://127.0.0.1:8000']."""
    mode = "production" if settings.production else "development"
    lines = [f"CJ Bridge is up ({mode} mode)"]
    for address in listeners:
        host = address.split("://", 1)[-1].rsplit(":", 1)[0]
        reach = "this machine only" if host in ("127.0.0.1", "::1", "localhost") else "every interface"
        lines.append(f"  web:      {address}  ({reach}; HOST and PORT change it)")
    if settings.admin_token == DEVELOPMENT_ADMIN_TOKEN:
        lines.append(f"  admin:    Authorization: Bearer {DEVELOPMENT_ADMIN_TOKEN}  (the development default; "
                     "set ADMIN_TOKEN to choose your own)")
    else:
        # Never print a real secret: logs are kept and shared.
        lines.append("  admin:    Authorization: Bearer <the ADMIN_TOKEN in this process's environment>")
    if settings.cj_dry_run:
        why = "; CJ_DRY_RUN=false goes live" if settings.cj_api_key else "; set CJ_API_KEY to go live"
        lines.append(f"  CJ:       dry-run ON: nothing is sent to CJ, each order is held with the request it "
                     f"would send{why}")
    else:
        pay = "paid from the CJ wallet (CJ_AUTO_PAY on)" if settings.cj_auto_pay else \
            "left unpaid at CJ for you to pay (CJ_AUTO_PAY off)"
        lines.append(f"  CJ:       LIVE: orders are created at {settings.cj_api_base_url}, {pay}")
    lines.append(f"  database: {make_url(settings.database_url).render_as_string(hide_password=True)}")
    return lines
