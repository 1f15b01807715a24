"""Money read from an API answer: a Decimal to the cent, or None for a missing or unreadable amount."""
from __future__ import annotations

from decimal import Decimal, InvalidOperation

CENT = Decimal("0.01")


def to_cents(value) -> Decimal | None:
    """12.5, "12.50" or Decimal("12.499") → Decimal("12.50"); None, "" or "n/a" → None (never a float)."""
    if value in (None, ""):
        return None
    try:
        return Decimal(str(value)).quantize(CENT)
    except InvalidOperation:
        return None
