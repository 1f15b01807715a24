"""Records what was sent to CJ or a store (or would have been, in dry-run) for the admin API."""
from __future__ import annotations

from sqlalchemy.orm import Session

from service.storage.models import ExternalCall
from service.timeutil import utcnow


def record_call(session: Session, *, order_id: int | None, service: str, operation: str, request=None,
                response=None, outcome: str) -> ExternalCall:
    call = ExternalCall(order_id=order_id, service=service, operation=operation, request=request,
                        response=response, outcome=outcome, at=utcnow())
    session.add(call)
    return call
