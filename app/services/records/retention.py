"""Retention of visit records (SOP_RULES §8.1, issue 5): filing stamps, read-only archive.

A visit is filed when its status becomes ``archived``: ``archived_at`` is stamped and ``retain_until`` set to
the end of the same local day N years later (Civil Code month arithmetic: 29 Feb + 2 years = 28 Feb), N from
the project's profile (``retention.visit_record_years``, 2 by default — RET-01). From then on the visit and
its numbered forms are read-only: any change or delete is refused before it reaches the database.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import event, inspect, select, text
from sqlalchemy.orm import Session

from workflows import clock, localtime
from workflows.actor import Actor
from workflows.errors import Conflict, NotFound
from workflows.models import EngineEvent, ProcessInstance
from workflows.policy.calendar import period_bounds
from workflows.policy.rules import filing_due

from ... import signals
from ...extensions import db
from ...models.intake import Project
from ...models.retention import RetainedRecord
from ...models.visit import DestructionEntry, Visit, VisitForm
from ..engine import get_engine, hooks
from ..policy import effective_policy
from . import retained_records, shredding
from .audit import record
from .periods import hold, release, retain_until

DEFAULT_YEARS = 2  # RET-01: 回访记录表 / 月回访汇总表 kept two years


class ArchivedRecord(Conflict):
    """A change to a filed record (HTTP 409): archived records are read-only for everyone."""


def retention_years(project_key: str | None) -> int:
    params = effective_policy(project_key).get("params") or {} if project_key else {}
    return int((params.get("retention") or {}).get("visit_record_years", DEFAULT_YEARS))


def _filed_at(visit) -> datetime | None:
    """When the visit was archived, as committed before this flush (None: not archived)."""
    state = inspect(visit)
    if "archived_at" in state.unloaded:
        visit.archived_at  # noqa: B018 - load it
    history = state.attrs.archived_at.history
    committed = history.deleted or history.unchanged
    return committed[0] if committed else None


def _stamp_and_guard(session: Session, _context, _instances) -> None:
    destroying = session.info.get(_DESTROYING, set())
    for obj in [*session.dirty, *session.deleted]:
        if not isinstance(obj, (Visit, VisitForm)):
            continue
        if obj not in session.deleted and not session.is_modified(obj):
            continue
        visit = obj if isinstance(obj, Visit) else obj.visit
        if visit is not None and visit.id in destroying and obj not in session.deleted:
            continue  # the witnessed destruction itself (RET-14)
        if isinstance(obj, Visit) and obj not in session.deleted and _changed(obj) <= HOLD_FIELDS:
            continue  # placing or releasing a legal hold is allowed on a filed record
        if isinstance(obj, Visit) and session.info.get(_RECALCULATING) and _changed(obj) <= {"retain_until"}:
            continue  # a changed retention period applies to filed records too
        filed = _filed_at(visit) if visit is not None else None
        if filed is not None:
            what = f"visit form {obj.serial}" if isinstance(obj, VisitForm) else f"visit #{visit.id}"
            raise ArchivedRecord(f"{what} was archived on {localtime.shown_date(filed)} and is read-only (RET-01); "
                                 "it can only be destroyed after its retention period")
    for obj in session.dirty:
        if isinstance(obj, Visit) and obj.status == "archived" and obj.archived_at is None:
            obj.archived_at = clock.now()
            obj.retain_until = retain_until(obj.archived_at, retention_years(obj.project_key))


def _changed(obj) -> set[str]:
    state = inspect(obj)
    return {attr.key for attr in state.attrs if attr.history.has_changes()}


# ---------------------------------------------------------------- legal hold and destruction (RET-14)

HOLD_FIELDS = {"legal_hold", "legal_hold_reason"}
_DESTROYING = "huifang_destroying_visits"
_RECALCULATING = "huifang_recalculating_retention"


def recalculate_retention(reason: str) -> int:
    """A changed retention period (a new profile version or project override) applies to what is already
    filed: every archived, not destroyed visit gets ``retain_until`` recomputed from its ``archived_at``, and
    every retained record of the other classes from its ``filed_at``; each change is in the trail with
    before/after, and one entry says why. Returns how many changed."""
    years: dict[str | None, int] = {}
    changed = 0
    db.session.info[_RECALCULATING] = True
    try:
        for visit in db.session.scalars(select(Visit).where(Visit.archived_at.is_not(None),
                                                            Visit.destroyed_at.is_(None))):
            if visit.project_key not in years:
                years[visit.project_key] = retention_years(visit.project_key)
            until = retain_until(visit.archived_at, years[visit.project_key])
            if visit.retain_until != until:
                visit.retain_until = until
                changed += 1
        records = retained_records.recalculate()
        if changed or records:
            record("retention.recalculated", target_type="visit",
                   details={"visits": changed, "records": records, "reason": reason})
        db.session.commit()
    finally:
        db.session.info.pop(_RECALCULATING, None)
    return changed + records


DESTRUCTION_PROCESS = "record_destruction"


def place_hold(visit_id: int, reason: str) -> None:
    hold(_visit(visit_id), f"visit #{visit_id}", reason)


def release_hold(visit_id: int, reason: str) -> None:
    release(_visit(visit_id), f"visit #{visit_id}", reason)


def _visit(visit_id: int):
    visit = db.session.get(Visit, visit_id)
    if visit is None:
        raise NotFound(f"visit {visit_id} does not exist")
    return visit


def expired_visits() -> list:
    """Filed visits whose retention ended, not on hold and not destroyed yet."""
    return db.session.scalars(select(Visit).where(
        Visit.retain_until < clock.now(), Visit.legal_hold.is_(False), Visit.destroyed_at.is_(None))
        .order_by(Visit.retain_until, Visit.id)).all()


def propose_destruction(actor) -> int:
    """Start the destruction flow for every expired record (the archivist then checks and proposes)."""
    visits, records = expired_visits(), retained_records.expired()
    if not visits and not records:
        raise Conflict("no record has reached the end of its retention period")
    batch = f"D-{clock.now():%Y%m%d%H%M%S}"
    instance = get_engine().start(DESTRUCTION_PROCESS, actor, {
        "batch": batch, "visit_ids": [v.id for v in visits], "record_ids": [r.id for r in records]},
        business_key=batch)
    return instance.id


def after_destruction_step(_process: str, bpmn_id: str, instance_id: int, actor, data: dict) -> list:
    """Completing the witness step destroys what is still destroyable: a hold placed meanwhile wins."""
    if bpmn_id != "witness":
        return []
    engine = get_engine()
    flow = engine.workflow_data(instance_id)
    steps = dict(db.session.execute(select(EngineEvent.detail["bpmn_id"].as_string(), EngineEvent.actor).where(
        EngineEvent.instance_id == instance_id, EngineEvent.kind == "task_completed")).all())
    now = clock.now()
    visits = [v for v in db.session.scalars(select(Visit).where(Visit.id.in_(flow.get("visit_ids") or [])))
              if not v.legal_hold and v.destroyed_at is None and v.retain_until is not None
              and v.retain_until < now]
    db.session.info.setdefault(_DESTROYING, set()).update(v.id for v in visits)
    register = []
    try:
        for visit in visits:
            register.append(dict(
                batch=flow["batch"], visit_id=visit.id, serials=[f.serial for f in visit.forms],
                category=visit.category, archived_at=visit.archived_at, retain_until=visit.retain_until,
                proposed_by=steps.get("propose", ""), approved_by=steps.get("approve", ""),
                witnessed_by=actor.username, method=data.get("method", ""), destroyed_at=now,
                instance_id=instance_id, trail_subject=str(shredding.Subject("visit", visit.id))))
            # The tombstone keeps what the register needs to point at; the contents are gone.
            visit.household, visit.household_id, visit.visitor, visit.result = None, None, None, None
            visit.status, visit.status_reason, visit.destroyed_at = "destroyed", f"destroyed in {flow['batch']}", now
            for form in visit.forms:
                form.void_reason, form.status = None, "destroyed"
            # The flow's document held the record's contents (plan, visit answers, review): it goes too.
            for instance in _visit_instances(visit):
                engine.purge(instance, actor, f"destroyed in {flow['batch']}")
        records = _destroy_records(flow, steps, actor, data, instance_id, now, register)
        _shred(register, now, flow["batch"])
        db.session.add_all(DestructionEntry(**values) for values in register)
        db.session.commit()
    finally:
        db.session.info.pop(_DESTROYING, None)
    return visits + records


def _shred(register: list[dict], now: datetime, batch: str) -> None:
    """Crypto-shredding: each destroyed subject's trail key goes in this transaction, after the records' last
    changes reached the trail (sealed under the keys while they still exist); the register notes it."""
    db.session.flush()
    for values in register:
        values["trail_key_destroyed"] = shredding.destroy_key(
            db.session, shredding.Subject.parse(values["trail_subject"]), now, batch)


def _visit_instances(visit) -> list[int]:
    """The ended flow instances that carried the visit (merged visits keep their own)."""
    if visit.instance_id is None:
        return []
    status = db.session.scalar(select(ProcessInstance.status).where(ProcessInstance.id == visit.instance_id))
    return [visit.instance_id] if status in ("completed", "cancelled") else []


def _destroy_records(flow: dict, steps: dict, actor, data: dict, instance_id: int, now: datetime,
                     register: list[dict]) -> list:
    """The other record classes of the batch, under the same rule: a hold placed meanwhile wins. Their
    register entries are added to ``register``."""
    records = [r for r in db.session.scalars(select(RetainedRecord).where(
        RetainedRecord.id.in_(flow.get("record_ids") or [])))
        if not r.legal_hold and r.destroyed_at is None and r.retain_until < now]
    for retained in records:
        register.append(dict(
            batch=flow["batch"], record_id=retained.id, serials=[retained.reference],
            category=retained.record_class, archived_at=retained.filed_at, retain_until=retained.retain_until,
            proposed_by=steps.get("propose", ""), approved_by=steps.get("approve", ""), witnessed_by=actor.username,
            method=data.get("method", ""), destroyed_at=now, instance_id=instance_id,
            trail_subject=str(shredding.subject_of_record(retained))))
    retained_records.destroy(records, now)
    return records


# ---------------------------------------------------------------- filing deadlines (RET-02, AMB-09)

FILING_PROCESS = "record_filing"
_FILING_LOCK = 0x46494C45  # pg_advisory_xact_lock key: workers take turns starting filing tasks


def start_due_filings() -> list[str]:
    """Every project gets one filing task per period of its profile's filing rule, due at the profile's
    deadline; ``flask huifang worker`` calls this each sweep (idempotent: one task per project and period)."""
    started = []
    for project in db.session.scalars(select(Project).order_by(Project.key)).all():
        params = effective_policy(project.key).get("params") or {}
        rule = params.get("filing_deadline")
        if not rule:
            continue
        first, last = period_bounds(clock.now(), rule["period"], localtime.zone())
        key = f"filing:{project.key}:{first:%Y-%m-%d}"
        if db.session.get_bind().dialect.name == "postgresql":
            db.session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _FILING_LOCK})
        if db.session.scalar(select(ProcessInstance.id).where(ProcessInstance.business_key == key).limit(1)):
            db.session.rollback()
            continue
        get_engine().start(FILING_PROCESS, Actor("system", frozenset({"Archivist"})), {
            "project": project.key, "period_start": first.isoformat(), "period_end": last.isoformat(),
            "filing_due": filing_due(params, clock.now()).isoformat()}, business_key=key)
        started.append(key)
    return started


def after_filing_step(_process: str, _bpmn_id: str, instance_id: int, actor, _data: dict) -> None:
    """Filing the period files its 回访记录签收表: its removal date runs from today (AMB-10)."""
    flow = get_engine().workflow_data(instance_id)
    if not flow.get("filed_at"):
        return
    period = flow["period_start"][:10]
    retained_records.file_record("signout_sheet", f"{flow['project']}:{period}", project_key=flow["project"],
                                  title=f"回访记录签收表 {flow['project']} {period}", filed_by=actor.username)
    db.session.commit()


def filings() -> list[dict]:
    """The filing register: each project's periods, their deadline, when filed, and whether late."""
    engine = get_engine()
    rows = []
    for instance in db.session.scalars(select(ProcessInstance).where(
            ProcessInstance.business_key.like("filing:%")).order_by(ProcessInstance.id.desc())).all():
        data = engine.workflow_data(instance.id)
        rows.append({"project": data.get("project"), "period_start": data.get("period_start"),
                     "period_end": data.get("period_end"), "filing_due": data.get("filing_due"),
                     "filed_at": data.get("filed_at"), "late": data.get("late"),
                     "forms_filed": data.get("forms_filed"), "status": instance.status,
                     "overdue": instance.status == "running" and localtime.utc(data["filing_due"]) < clock.now(),
                     "instance_id": instance.id, "started_at": localtime.iso(instance.started_at)})
    return rows


_connected: list[bool] = []


def connect() -> None:
    if not _connected:
        event.listen(Session, "before_flush", _stamp_and_guard)
        _connected.append(True)
    retained_records.connect()


def _on_policy_changed(_sender, reason: str = "", **_kwargs) -> None:
    recalculate_retention(reason)


def init_app(app) -> None:
    """Guards of filed records, the destruction and filing flows' bookkeeping, and removal dates that follow
    a changed retention period."""
    connect()
    signals.policy_changed.connect(_on_policy_changed, weak=False)
    registered = hooks(app)
    registered.after_completing((DESTRUCTION_PROCESS,), after_destruction_step)
    registered.after_completing((FILING_PROCESS,), after_filing_step)
