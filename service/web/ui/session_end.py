"""When an admin page session ends: 12 hours after its sign-in, however often it is used, and at any sign-out."""
from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from service.storage.models import CjAccountState

LIFETIME = timedelta(hours=12)  # from sign-in, not from the last use: a stolen cookie stops working too
ACCOUNT_ROW_ID = 1


def sign_in_time(value) -> datetime | None:
    """The session's signed_in_at (ISO, naive UTC) as a time; None when missing or not a time."""
    try:
        return datetime.fromisoformat(value) if isinstance(value, str) and value else None
    except ValueError:
        return None


def still_signed_in(signed_in_at, *, now: datetime, valid_after: datetime | None) -> bool:
    """A session without a sign-in time is from before it was kept (an old cookie): refused too."""
    since = sign_in_time(signed_in_at)
    if since is None or now >= since + LIFETIME:
        return False
    return valid_after is None or since > valid_after


def sessions_valid_after(db: Session) -> datetime | None:
    """The last sign-out's time: one primary-key read on every signed-in request."""
    return db.scalar(select(CjAccountState.ui_sessions_valid_after).where(CjAccountState.id == ACCOUNT_ROW_ID))


def end_sessions_signed_in_before(db: Session, when: datetime) -> None:
    """Server-side sign-out: every cookie made at or before `when` stops working, wherever it was copied to."""
    column = CjAccountState.ui_sessions_valid_after
    # Never moved back: a sign-out handled by a process whose clock is behind must not revive later ones' sessions.
    db.execute(update(CjAccountState).where(CjAccountState.id == ACCOUNT_ROW_ID, or_(column.is_(None), column < when))
               .values(ui_sessions_valid_after=when))
