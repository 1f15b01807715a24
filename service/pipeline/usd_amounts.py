"""Store amounts in USD for CJ: CJ reads shopAmount and unitPrice as USD (they feed customs and IOSS)."""
from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

from sqlalchemy.orm import Session

from service.storage.models import ExchangeRate

CENT = Decimal("0.01")


def usd_rate(session: Session, currency: str | None) -> Decimal | None:
    """USD per unit of the store's currency: 1 for USD, the merchant's configured rate, else None (unknown)."""
    if not currency:
        return None
    code = currency.strip().upper()
    if code == "USD":
        return Decimal(1)
    row = session.get(ExchangeRate, code)
    return Decimal(row.usd_per_unit) if row is not None else None


def in_usd(amount, rate: Decimal | None) -> float | None:
    """The amount in USD, to the cent, as a JSON number; None when the amount or the rate is unknown."""
    if amount in (None, "") or rate is None:
        return None
    return float((Decimal(str(amount)) * rate).quantize(CENT, rounding=ROUND_HALF_UP))
