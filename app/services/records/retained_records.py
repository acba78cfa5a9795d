"""Retention classes beyond visits (AMB-10): each filed record gets its removal date from the project's
profile when it is filed, keeps it read-only, and goes through the same legal hold and supervised
destruction as visits (retention.py beside this file).

Classes and the profile keys of their periods (``retention`` object of the profile):
- ``signout_sheet``, ``monthly_summary``: ``visit_record_years`` (2 by default, RET-01), from filing;
- ``customer_file``: a former customer's household file, ``former_customer_file_years`` (13, RET-11),
  from the day the customer left; current customers' files are kept long-term and are not in here;
- ``call_recording``: ``call_recordings_years`` (15, RET-05 — the securities profile).
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import event, inspect, select
from sqlalchemy.orm import Session

from workflows import clock, localtime
from workflows.errors import Conflict, InvalidInput, NotFound, Problem

from ...extensions import db
from ...models.intake import Customer, Household
from ...models.retention import RECORD_CLASSES, RetainedRecord
from ..policy import effective_policy
from .audit import current_username
from .periods import hold, release, retain_until

YEARS = {  # record class → (profile key, default years)
    "signout_sheet": ("visit_record_years", 2),
    "monthly_summary": ("visit_record_years", 2),
    "customer_file": ("former_customer_file_years", 13),
    "call_recording": ("call_recordings_years", 15),
}
HOLD_FIELDS = {"legal_hold", "legal_hold_reason"}
_RECORD_CHANGES = "huifang_retained_record_changes"  # session.info: changes this module makes itself


def class_years(record_class: str, project_key: str | None) -> int:
    key, default = YEARS[record_class]
    params = (effective_policy(project_key).get("params") or {}) if project_key else {}
    return int((params.get("retention") or {}).get(key, default))


def _removal_date(record_class: str, project_key: str | None, filed_at: datetime) -> datetime:
    return retain_until(filed_at, class_years(record_class, project_key))


def file_record(record_class: str, reference: str, *, project_key: str | None, title: str | None,
                filed_by: str, filed_at: datetime | None = None) -> RetainedRecord:
    """Register a filed record and stamp its removal date; filing the same record again changes nothing.
    The caller commits (filing goes with the act that files)."""
    problems = []
    if record_class not in RECORD_CLASSES:
        problems.append(Problem(f"must be one of {', '.join(RECORD_CLASSES)}", field="record_class"))
    if not (reference or "").strip():
        problems.append(Problem("a reference is required (what is filed, e.g. the recording's id)", field="reference"))
    if problems:
        raise InvalidInput(problems)
    existing = db.session.scalar(select(RetainedRecord).where(RetainedRecord.record_class == record_class,
                                                              RetainedRecord.reference == reference.strip()))
    if existing is not None:
        return existing
    filed_at = filed_at or clock.now()
    record = RetainedRecord(record_class=record_class, reference=reference.strip(), project_key=project_key,
                            title=title, filed_by=filed_by, filed_at=filed_at, legal_hold=False,
                            retain_until=_removal_date(record_class, project_key, filed_at))
    db.session.add(record)
    return record


def get(record_id: int) -> RetainedRecord:
    record = db.session.get(RetainedRecord, record_id)
    if record is None:
        raise NotFound(f"retained record {record_id} does not exist")
    return record


def place_hold(record_id: int, reason: str) -> RetainedRecord:
    record = get(record_id)
    hold(record, repr(record), reason)
    return record


def release_hold(record_id: int, reason: str) -> RetainedRecord:
    record = get(record_id)
    release(record, repr(record), reason)
    return record


def expired() -> list[RetainedRecord]:
    return db.session.scalars(select(RetainedRecord).where(
        RetainedRecord.retain_until < clock.now(), RetainedRecord.legal_hold.is_(False),
        RetainedRecord.destroyed_at.is_(None)).order_by(RetainedRecord.retain_until, RetainedRecord.id)).all()


def recalculate() -> int:
    """A changed period applies to what is filed already; returns how many removal dates changed."""
    changed = 0
    db.session.info[_RECORD_CHANGES] = True
    try:
        for record in db.session.scalars(select(RetainedRecord).where(RetainedRecord.destroyed_at.is_(None))):
            until = _removal_date(record.record_class, record.project_key, record.filed_at)
            if record.retain_until != until:
                record.retain_until = until
                changed += 1
        db.session.flush()
    finally:
        db.session.info.pop(_RECORD_CHANGES, None)
    return changed


def destroy(records: list[RetainedRecord], at: datetime) -> None:
    """The witnessed destruction: the record's title goes, the reference stays as its tombstone; a former
    customer's file loses its customers' personal data (names, phone and ID numbers, notes) — the household
    row stays, as the unit of the property it describes."""
    db.session.info[_RECORD_CHANGES] = True
    try:
        for record in records:
            record.title, record.destroyed_at = None, at
            if record.record_class == "customer_file" and record.reference.startswith("household:"):
                household_id = int(record.reference.split(":", 1)[1])
                for customer in db.session.scalars(select(Customer).where(Customer.household_id == household_id)):
                    customer.name, customer.phone, customer.id_number, customer.contact_notes = (
                        "（已销毁 destroyed）", None, None, None)
        db.session.flush()
    finally:
        db.session.info.pop(_RECORD_CHANGES, None)


def to_dict(record: RetainedRecord) -> dict:
    iso = localtime.iso
    return {"id": record.id, "record_class": record.record_class, "reference": record.reference,
            "project": record.project_key, "title": record.title, "filed_by": record.filed_by,
            "filed_at": iso(record.filed_at), "retain_until": iso(record.retain_until),
            "legal_hold": record.legal_hold, "legal_hold_reason": record.legal_hold_reason,
            "destroyed_at": iso(record.destroyed_at)}


# ---------------------------------------------------------------- guards and automatic filing

def _guard_and_file(session: Session, _context, _instances) -> None:
    """Filed records are read-only but for their hold; a household whose customer left is filed as a
    former customer's file, and from then on its file (household and customers) is read-only too."""
    if session.info.get(_RECORD_CHANGES):
        return
    for obj in [*session.dirty, *session.deleted]:
        if isinstance(obj, RetainedRecord) and (obj in session.deleted or _changed(obj) - HOLD_FIELDS):
            raise Conflict(f"{obj!r} was filed on {localtime.shown_date(obj.filed_at)} and is read-only; "
                           "it can only be destroyed after its retention period")
    for obj in [*session.dirty, *session.deleted]:
        household = obj if isinstance(obj, Household) else obj.household if isinstance(obj, Customer) else None
        if household is None or not (obj in session.deleted or session.is_modified(obj)):
            continue
        if _committed(household, "former_customer"):
            raise Conflict(f"the file of household {household.file_no} was archived when its customer left "
                           f"(RET-11) and is read-only")
    for obj in session.dirty:
        if isinstance(obj, Household) and obj.former_customer and not _committed(obj, "former_customer"):
            file_record("customer_file", f"household:{obj.id}", project_key=obj.project.key if obj.project else None,
                        title=f"住户档案 {obj.file_no}", filed_by=current_username())


def _committed(obj, attr: str):
    """The attribute's value as it is in the database (before this flush)."""
    state = inspect(obj)
    if state.transient or state.pending:
        return None
    history = state.attrs[attr].history
    committed = history.deleted or history.unchanged
    return committed[0] if committed else None


def _changed(obj) -> set[str]:
    return {attr.key for attr in inspect(obj).attrs if attr.history.has_changes()}


_connected: list[bool] = []


def connect() -> None:
    if not _connected:
        event.listen(Session, "before_flush", _guard_and_file)
        _connected.append(True)
