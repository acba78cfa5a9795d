"""What every retained record shares (SOP_RULES §8): its removal date and the legal hold that stops it."""
from __future__ import annotations

from datetime import datetime

from workflows import localtime
from workflows.errors import Conflict, InvalidInput, Problem
from workflows.policy.calendar import add_months

from ...extensions import db


def retain_until(filed_at: datetime, years: int) -> datetime:
    """The end of the same local day ``years`` later (Civil Code month arithmetic: 29 Feb + 2 years = 28 Feb)."""
    return localtime.day_end(add_months(localtime.local_date(filed_at), 12 * years))


def hold(item, what: str, reason: str) -> None:
    """A legal hold keeps a record (a visit or a retained record) from destruction until released; the
    trail records both through the change of its hold fields."""
    if not (reason or "").strip():
        raise InvalidInput(Problem("a reason is required for a legal hold", field="reason"))
    if item.destroyed_at is not None:
        raise Conflict(f"{what} was destroyed on {localtime.shown_date(item.destroyed_at)}")
    item.legal_hold, item.legal_hold_reason = True, reason.strip()
    db.session.commit()


def release(item, what: str, reason: str) -> None:
    if not (reason or "").strip():
        raise InvalidInput(Problem("a reason is required to release a legal hold", field="reason"))
    if not item.legal_hold:
        raise Conflict(f"{what} is not on legal hold")
    item.legal_hold, item.legal_hold_reason = False, f"released: {reason.strip()}"
    db.session.commit()
