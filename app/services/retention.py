"""Retention of visit records (SOP_RULES §8.1, issue 5): filing stamps, read-only archive.

A visit is filed when its status becomes ``archived``: ``archived_at`` is stamped and ``retain_until`` set to
the end of the same local day N years later (Civil Code month arithmetic: 29 Feb + 2 years = 28 Feb), N from
the project's profile (``retention.visit_record_years``, 2 by default — RET-01). From then on the visit and
its numbered forms are read-only: any change or delete is refused before it reaches the database.
"""
from __future__ import annotations

from datetime import datetime, timezone
from zoneinfo import ZoneInfo

from sqlalchemy import event, inspect
from sqlalchemy.orm import Session

from workflows import clock
from workflows.errors import Conflict
from workflows.policy.calendar import add_months, end_of_day

DEFAULT_YEARS = 2  # RET-01: 回访记录表 / 月回访汇总表 kept two years


class ArchivedRecord(Conflict):
    """A change to a filed record (HTTP 409): archived records are read-only for everyone."""


def retention_years(project_key: str | None) -> int:
    from .visits import _effective_policy

    params = _effective_policy(project_key).get("params") or {} if project_key else {}
    return int((params.get("retention") or {}).get("visit_record_years", DEFAULT_YEARS))


def retain_until(archived_at: datetime, years: int, zone: ZoneInfo) -> datetime:
    local = archived_at.astimezone(zone).date()
    return end_of_day(add_months(local, 12 * years), zone).astimezone(timezone.utc)


def _filed_at(visit) -> datetime | None:
    """When the visit was archived, as committed before this flush (None: not archived)."""
    state = inspect(visit)
    if "archived_at" in state.unloaded:
        visit.archived_at  # noqa: B018 - load it
    history = state.attrs.archived_at.history
    committed = history.deleted or history.unchanged
    return committed[0] if committed else None


def _stamp_and_guard(session: Session, _context, _instances) -> None:
    from flask import current_app, has_app_context

    from ..models.visit import Visit, VisitForm

    for obj in [*session.dirty, *session.deleted]:
        if not isinstance(obj, (Visit, VisitForm)):
            continue
        if obj not in session.deleted and not session.is_modified(obj):
            continue
        visit = obj if isinstance(obj, Visit) else obj.visit
        filed = _filed_at(visit) if visit is not None else None
        if filed is not None:
            what = f"visit form {obj.serial}" if isinstance(obj, VisitForm) else f"visit #{visit.id}"
            raise ArchivedRecord(f"{what} was archived on {filed:%Y-%m-%d} and is read-only (RET-01); "
                                 "it can only be destroyed after its retention period")
    for obj in session.dirty:
        if isinstance(obj, Visit) and obj.status == "archived" and obj.archived_at is None:
            obj.archived_at = clock.now()
            zone = ZoneInfo(current_app.config["TIMEZONE"]) if has_app_context() else timezone.utc
            obj.retain_until = retain_until(obj.archived_at, retention_years(obj.project_key), zone)


_connected: list[bool] = []


def connect() -> None:
    if not _connected:
        event.listen(Session, "before_flush", _stamp_and_guard)
        _connected.append(True)
