"""The CJ wallet: its balance read on a schedule, against what the orders waiting for payment need.

The balance is what CJ's getBalance answered (0 points), kept with the time it was read; the need is the sum
of CJ's own amounts (orderAmount) of orders created at CJ and not paid yet, never an estimate. Shown in
/readyz and GET /admin/cj/account, with a warning under LOW_BALANCE_USD or under the need.
"""
from __future__ import annotations

from decimal import Decimal, InvalidOperation

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from service.cj.account import ACCOUNT_ROW_ID, locked_account
from service.cj.errors import CjApiError, CjTransportError, retry_if_transient
from service.jobs.outcomes import RetryLater
from service.storage.models import CjAccountState, Order
from service.runtime import Runtime
from service.timeutil import iso, utcnow


def read_wallet(session: Session, *, runtime: Runtime) -> str:
    """Periodic: read the balance from CJ and keep it."""
    if runtime.settings.cj_dry_run:
        return "dry_run"
    session.commit()  # no transaction stays open across CJ's call
    try:
        data = runtime.cj.get_balance()
    except (CjApiError, CjTransportError) as exc:
        retry_if_transient(exc)
        raise RetryLater(f"{exc}; read again later") from None
    row = locked_account(session)
    row.wallet = {key: _amount(data.get(key)) for key in ("amount", "noWithdrawalAmount", "freezeAmount")}
    row.wallet_read_at = utcnow()
    return f"balance {row.wallet['amount']} USD"


def wallet_status(session: Session, *, runtime: Runtime) -> dict:
    row = session.get(CjAccountState, ACCOUNT_ROW_ID)
    wallet = (row.wallet if row is not None else None) or {}
    unpaid = session.execute(select(func.count(Order.id), func.sum(Order.cj_order_amount)).where(
        Order.cj_order_id.is_not(None), Order.cancelled.is_(False),
        (Order.cj_pay_state.is_(None)) | (Order.cj_pay_state != "paid"),
        (Order.cj_status.is_(None)) | (Order.cj_status.not_in(("UNSHIPPED", "SHIPPED", "DELIVERED", "CANCELLED"))),
    )).one()
    needed = Decimal(unpaid[1] or 0).quantize(Decimal("0.01"))
    balance = _decimal(wallet.get("amount"))
    status = {"balance_usd": str(balance) if balance is not None else None,
              "read_at": iso(row.wallet_read_at) if row is not None else None,
              "unpaid_cj_orders": unpaid[0], "needed_for_unpaid_usd": str(needed),
              "low_balance_usd": str(runtime.settings.low_balance_usd)
              if runtime.settings.low_balance_usd is not None else None}
    warning = None
    if balance is not None and balance < needed:
        warning = (f"the CJ wallet holds {balance} USD, less than the {needed} USD that {unpaid[0]} unpaid CJ "
                   "order(s) need: top it up on My CJ")
    elif balance is not None and runtime.settings.low_balance_usd is not None \
            and balance < runtime.settings.low_balance_usd:
        warning = f"the CJ wallet holds {balance} USD, under LOW_BALANCE_USD ({runtime.settings.low_balance_usd})"
    if warning:
        status["warning"] = warning
    return status


def _decimal(value) -> Decimal | None:
    try:
        return Decimal(str(value)) if value not in (None, "") else None
    except InvalidOperation:
        return None


def _amount(value) -> str | None:
    amount = _decimal(value)
    return str(amount) if amount is not None else None
