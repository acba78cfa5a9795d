"""The audit trail (issue 5): recording, sealing into the hash chain, verifying.

Recording never waits for anyone: an entry is one INSERT carrying the SHA-256 of its own content, in the
caller's transaction (it commits or rolls back with the action). Sealing gives committed entries their
place in the chain — ``chain_hash = sha256(prev_hash + content_hash)`` in ``seq`` order — one sealer at a
time; engine events (``wf_event``) are copied in at that moment. Verifying recomputes both hashes and names
the first entry that does not match.
"""
from __future__ import annotations

import hashlib
import json
import uuid
from datetime import datetime, timedelta

from flask import current_app, g, has_app_context, has_request_context, request
from sqlalchemy import and_, bindparam, event, func, insert, inspect, or_, select, text, update
from sqlalchemy.orm import Session

from workflows import clock, localtime
from workflows.models import EngineEvent

from ... import signals
from ...extensions import db
from ...models.audit import AuditEntry
from ...models.intake import Customer, FileLoan, Household, Project, ServiceEvent, WorkOrder
from ...models.policy import PolicyProfile, PolicyProfileVersion, ProjectPolicyVersion
from ...models.visit import RepairSample, Visit, VisitForm
from . import shredding

GENESIS = "0" * 64
SYSTEM = "system"
# An engine event is copied once its transaction is surely over (engine transactions last milliseconds).
ENGINE_SETTLE = timedelta(seconds=60)
_SEALER_LOCK = 0x48554946  # pg_advisory_xact_lock key: one sealer at a time
_TABLE = AuditEntry.__table__
_INSERT = insert(_TABLE)
_SEAL = update(_TABLE).where(_TABLE.c.id == bindparam("_id"), _TABLE.c.seq.is_(None))


# ---------------------------------------------------------------- hashing

def _utc_iso(value: datetime) -> str:
    return localtime.utc(value).isoformat(timespec="microseconds")


def content_hash(values) -> str:
    """SHA-256 over the entry's content, canonical JSON (``values``: a mapping or a row)."""
    get = values.get if isinstance(values, dict) else lambda key: getattr(values, key)
    canonical = [_utc_iso(get("at")), get("actor"), get("action"), get("target_type"), get("target_id"),
                 get("details") or {}, get("ip"), get("request_id"), get("source"), get("source_id")]
    text_ = json.dumps(canonical, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)
    return hashlib.sha256(text_.encode("utf-8")).hexdigest()


def chain_hash(prev_hash: str, content: str) -> str:
    return hashlib.sha256((prev_hash + content).encode("ascii")).hexdigest()


# ---------------------------------------------------------------- recording

def request_id() -> str | None:
    return getattr(g, "request_id", None) if has_request_context() else None


def current_username() -> str:
    """Who is acting: the logged-in user (session or JWT), else ``system`` (CLI, worker)."""
    if not has_request_context():
        return SYSTEM
    if "audit_actor" not in g:
        try:
            user = current_app.appbuilder.sm.current_user
        except Exception:  # noqa: BLE001 - no valid session or token: nobody is logged in
            user = None
        g.audit_actor = getattr(user, "username", None) or "anonymous"
    return g.audit_actor


def entry_values(action: str, *, actor: str | None = None, target_type: str | None = None,
                 target_id=None, details: dict | None = None, at: datetime | None = None, source: str = "app",
                 source_id: int | None = None) -> dict:
    at = at or clock.now()
    values = {
        "at": localtime.utc(at),
        "actor": actor or current_username(), "action": action,
        "target_type": target_type, "target_id": None if target_id is None else str(target_id),
        "details": _jsonable(details or {}), "ip": request.remote_addr if has_request_context() else None,
        "request_id": request_id(), "source": source, "source_id": source_id,
    }
    values["content_hash"] = content_hash(values)
    return values


def record(action: str, *, session: Session | None = None, **kwargs) -> None:
    """Add one entry to the current transaction (Core INSERT: also safe inside a flush event)."""
    (session or db.session).connection().execute(_INSERT, [entry_values(action, **kwargs)])


def _jsonable(value):
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set)):
        return [_jsonable(v) for v in value]
    if isinstance(value, datetime):
        return _utc_iso(value)
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    return str(value)


# ---------------------------------------------------------------- sealing

def seal(batch: int = 5000) -> int:
    """Copy settled engine events into the trail, then chain every unsealed entry (oldest id first).
    Returns how many entries were sealed. Safe to run in several workers: sealers take turns."""
    session = db.session
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _SEALER_LOCK})
    _copy_engine_events(session, batch)
    head = session.execute(select(_TABLE.c.seq, _TABLE.c.chain_hash).where(_TABLE.c.seq.is_not(None))
                           .order_by(_TABLE.c.seq.desc()).limit(1)).first()
    seq, prev = (head.seq, head.chain_hash) if head else (0, GENESIS)
    rows = session.execute(select(_TABLE.c.id, _TABLE.c.content_hash).where(_TABLE.c.seq.is_(None))
                           .order_by(_TABLE.c.id).limit(batch)).all()
    links = []
    for row in rows:
        seq += 1
        link = chain_hash(prev, row.content_hash)
        links.append({"_id": row.id, "seq": seq, "prev_hash": prev, "chain_hash": link})
        prev = link
    if links:
        session.connection().execute(_SEAL, links)  # one executemany round trip
    session.commit()
    return len(rows)


def _copy_engine_events(session: Session, batch: int) -> None:
    events = EngineEvent.__table__
    copied = session.scalar(select(func.max(_TABLE.c.source_id)).where(_TABLE.c.source == "engine")) or 0
    rows = session.execute(select(events).where(events.c.id > copied, events.c.at < clock.now() - ENGINE_SETTLE)
                           .order_by(events.c.id).limit(batch)).all()
    if rows:
        session.execute(_INSERT, [engine_entry_values(row) for row in rows])


def engine_entry_values(row) -> dict:
    """The trail entry of one wf_event row (also what verify compares a copied event with)."""
    details = dict(row.detail or {})
    if row.version_id is not None:
        details["version_id"] = row.version_id
    if row.task_id is not None:
        details["task_id"] = row.task_id
    return entry_values(f"engine.{row.kind}", actor=row.actor, target_type="process_instance" if row.instance_id
                        else None, target_id=row.instance_id, details=details, at=row.at, source="engine",
                        source_id=row.id) | {"ip": None, "request_id": None}


# ---------------------------------------------------------------- verifying

def verify(batch: int = 10000) -> dict:
    """Walk the chain in seq order; report the first entry whose content or link does not match."""
    session = db.session
    checked, prev, expected_seq, last = 0, GENESIS, 1, 0
    columns = [c for c in _TABLE.c]
    while True:
        rows = session.execute(select(*columns).where(_TABLE.c.seq > last).order_by(_TABLE.c.seq)
                               .limit(batch)).all()
        if not rows:
            break
        originals = _engine_originals(session, [r.source_id for r in rows if r.source == "engine"])
        for row in rows:
            problem = None
            if row.seq != expected_seq:
                problem = f"entry with seq {expected_seq} is missing (next is {row.seq})"
            elif content_hash(row) != row.content_hash:
                problem = "its content does not match its content hash (changed after it was written)"
            elif row.prev_hash != prev or chain_hash(prev, row.content_hash) != row.chain_hash:
                problem = "its chain hash does not follow from the entry before it"
            elif row.source == "engine" and row.source_id in originals \
                    and originals[row.source_id] != row.content_hash:
                problem = f"engine event {row.source_id} (wf_event) was changed after it was copied into the trail"
            if problem:
                return {"ok": False, "checked": checked, "first_broken": {
                    "id": row.id, "seq": row.seq, "action": row.action, "problem": problem,
                    "expected_prev_hash": prev, "found_prev_hash": row.prev_hash}}
            prev, expected_seq, checked = row.chain_hash, expected_seq + 1, checked + 1
        last = rows[-1].seq
    unsealed = session.scalar(select(func.count()).select_from(_TABLE).where(_TABLE.c.seq.is_(None)))
    session.rollback()
    return {"ok": True, "checked": checked, "unsealed": unsealed, "head": prev}


def _engine_originals(session: Session, ids: list[int]) -> dict[int, str]:
    """Content hashes of the wf_event rows that engine entries copied (rows may be gone: not checked)."""
    if not ids:
        return {}
    events = EngineEvent.__table__
    rows = session.execute(select(events).where(events.c.id.in_(ids))).all()
    return {row.id: engine_entry_values(row)["content_hash"] for row in rows}


def trail_query(target_type=None, target_id=None, actor=None, action=None, since=None, until=None):
    """Entries matching every given filter, in the order they happened (chain order, then unsealed)."""
    query = select(AuditEntry)
    for column, value in ((AuditEntry.target_type, target_type), (AuditEntry.target_id, target_id),
                          (AuditEntry.actor, actor), (AuditEntry.action, action)):
        if value is not None:
            query = query.where(column == str(value))
    if since is not None:
        query = query.where(AuditEntry.at >= since)
    if until is not None:
        query = query.where(AuditEntry.at <= until)
    return query.order_by(AuditEntry.seq.is_(None), AuditEntry.seq, AuditEntry.id)


def visit_trail(visit_id: int) -> tuple[object, list[AuditEntry]]:
    """Everything the trail holds about one visit from intake to archive: its service event, the visit
    row, its numbered forms, and the engine's instance — in the order it happened."""
    visit = db.session.get(Visit, visit_id)
    if visit is None:
        return None, []
    targets = [("visit", visit.id)]
    targets += [("visit_form", form_id) for form_id in
                db.session.scalars(select(VisitForm.id).where(VisitForm.visit_id == visit.id))]
    if visit.service_event_id:
        targets.append(("intake_service_event", visit.service_event_id))
    if visit.instance_id:
        targets.append(("process_instance", visit.instance_id))
    condition = or_(*[and_(AuditEntry.target_type == kind, AuditEntry.target_id == str(key)) for kind, key in targets])
    entries = db.session.scalars(select(AuditEntry).where(condition)
                                 .order_by(AuditEntry.at, AuditEntry.id)).all()
    return visit, entries


def readable(entries) -> list[tuple[AuditEntry, dict, "shredding.Destroyed | None"]]:
    """Each entry with its details as written: sealed values decrypted while their subject's key exists, the
    "destroyed with the record (RET-14), <date>" marker once it was shredded (see app/services/shredding.py)."""
    return shredding.opened(list(entries), lambda e: e.details, db.session.connection())


def readable_details(details) -> dict:
    """One stored ``details`` (or engine event ``detail``) as a reader sees it."""
    [(_, opened, _destroyed)] = shredding.opened([details], lambda d: d, db.session.connection())
    return opened


# ---------------------------------------------------------------- what gets recorded

def _model_classes():
    sm = current_app.appbuilder.sm
    return (Project, Household, Customer, ServiceEvent, WorkOrder, FileLoan, Visit, VisitForm, RepairSample,
            PolicyProfile, PolicyProfileVersion, ProjectPolicyVersion, sm.user_model, sm.role_model)


# Bookkeeping FAB changes on every login: not an auditable change of the user.
_IGNORED = {"login_count", "fail_login_count", "last_login", "changed_on", "changed_by_fk", "password"}
_PERSONAL = {"phone", "id_number"}


def _value(obj, attr):
    value = getattr(obj, attr.key, None)
    if isinstance(value, (list, tuple)):  # a relationship collection (a user's roles, a role's permissions)
        return sorted(str(v) for v in value)
    if hasattr(value, "__table__"):
        return str(value)
    return value


def _shown(key, value):
    """Personal numbers go into the trail masked: the trail is read more widely than the household file."""
    if key in _PERSONAL and isinstance(value, str) and len(value) > 4:
        return "*" * (len(value) - 4) + value[-4:]
    return value


def _changes(obj) -> dict:
    state = inspect(obj)
    before, after = {}, {}
    for attr in state.mapper.column_attrs.values():
        if attr.key in _IGNORED:
            continue
        history = state.attrs[attr.key].history
        if history.has_changes():
            before[attr.key] = _shown(attr.key, history.deleted[0] if history.deleted else None)
            after[attr.key] = _shown(attr.key, history.added[0] if history.added else None)
    for rel in state.mapper.relationships:
        if rel.uselist and rel.key in ("roles", "permissions"):
            history = state.attrs[rel.key].history
            if history.has_changes():
                before[rel.key] = sorted(str(v) for v in [*history.unchanged, *history.deleted])
                after[rel.key] = sorted(str(v) for v in [*history.unchanged, *history.added])
    return {"before": before, "after": after} if after or before else {}


def _snapshot(obj) -> dict:
    state = inspect(obj)
    return {a.key: _shown(a.key, getattr(obj, a.key, None)) for a in state.mapper.column_attrs
            if a.key not in _IGNORED}


def _after_flush(session, _context) -> None:
    if not has_app_context() or session is not db.session():
        return
    audited = _model_classes()
    found = []
    for kind, objects in (("create", session.new), ("update", session.dirty), ("delete", session.deleted)):
        for obj in objects:
            if not isinstance(obj, audited):
                continue
            if kind == "update":
                details = _changes(obj)
                if not details:
                    continue
            else:
                snapshot = _snapshot(obj)
                details = {"after": snapshot} if kind == "create" else {"before": snapshot}
            found.append((kind, obj, _jsonable(details), shredding.subject_of(obj)))
    if not found:
        return
    # A record's values are sealed under its subject's key (crypto-shredding); the hash is over what is stored.
    keys = shredding.keys_for(session, {subject for *_, subject in found if subject is not None})
    entries = []
    for kind, obj, details, subject in found:
        if subject is not None:
            details = shredding.seal(details, shredding.CRUD_PERSONAL, subject, keys[subject])
        key = inspect(obj).mapper.primary_key_from_instance(obj)
        entries.append(entry_values(kind, target_type=type(obj).__tablename__,
                                    target_id=key[0] if len(key) == 1 else "/".join(map(str, key)),
                                    details=details))
    session.connection().execute(_INSERT, entries)


def on_audited(sender, action, target_type=None, target_id=None, details=None, actor=None, **_extra) -> None:
    """Receiver of ``app.signals.audited``: the entry joins the sender's transaction."""
    record(action, target_type=target_type, target_id=target_id, details=details, actor=actor)


def _start_request() -> None:
    g.request_id = request.headers.get("X-Request-Id") or uuid.uuid4().hex


def _finish_request(response):
    if getattr(g, "request_id", None):
        response.headers["X-Request-Id"] = g.request_id
    return response


_connected: list[bool] = []


def init_app(app) -> None:
    app.before_request(_start_request)
    app.after_request(_finish_request)
    if not _connected:  # signals and session events are process-wide: subscribe once
        signals.audited.connect(on_audited)
        event.listen(Session, "after_flush", _after_flush)
        _connected.append(True)
    shredding.connect()
