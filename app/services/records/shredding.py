"""Crypto-shredding of the trail's personal values (issue 5, RET-14).

The audit trail and the engine's events are append-only and hash-chained, so the copies of a record's personal
values they hold cannot be deleted when the record is destroyed. Instead those values are stored sealed
(AES-256-GCM) under a data key of their *subject* — what the witnessed destruction destroys:

- ``visit:<id>``: the visit row, its numbered forms and the events of its flow instance (the submitted form
  data, and the business key — the household — of its start);
- ``household:<id>``: the household's file — the household row, its customers, service events and work orders
  (a former customer's file is the retained record ``household:<id>``);
- ``record:<id>``: any other retained record (nothing seals under these yet: their flows carry figures).

The destruction sets the subject's key to NULL in the same transaction as the tombstone and the register entry;
from then on the sealed values cannot be read by anyone, while every hash — computed over what is stored, the
ciphertext — still matches, so ``flask audit verify`` never needs a key. What stays in clear: action, actor,
time, ids, the names of the sealed fields, and the subject.

A sealed ``details`` (or ``wf_event.detail``) keeps its clear keys and replaces the personal ones with::

    "sealed": {"subject": "visit:12", "key": 34, "fields": {"before": ["household", …], "after": […]},
               "box": base64(nonce ‖ ciphertext ‖ tag)}

the plaintext being the canonical JSON of the replaced keys, authenticated with the subject and key id.
"""
from __future__ import annotations

import base64
import json
import os
import threading
from collections import OrderedDict
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from flask import current_app, has_app_context
from flask_babel import gettext
from sqlalchemy import and_, bindparam, event, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from workflows import clock, localtime

from ...models.audit import TrailKey
from ...models.intake import Customer, Household, ServiceEvent, WorkOrder
from ...models.visit import Visit, VisitForm

SEALED = "sealed"
# The CRUD entries' values (before/after) and the engine events' submitted form data are the personal parts.
CRUD_PERSONAL = ("before", "after")
EVENT_PERSONAL = ("data",)
STARTED_PERSONAL = ("business_key",)  # a visit flow's business key is its household (building-room)
_NONCE = 12
_KEYS = TrailKey.__table__


@dataclass(frozen=True)
class Subject:
    type: str
    id: int

    def __str__(self) -> str:
        return f"{self.type}:{self.id}"

    @classmethod
    def parse(cls, text: str) -> "Subject | None":
        kind, _, ident = (text or "").partition(":")
        return cls(kind, int(ident)) if kind in ("visit", "household", "record") and ident.isdigit() else None


@dataclass(frozen=True)
class KeyRow:
    id: int
    key: bytes | None  # None: destroyed
    destroyed_at: datetime | None = None
    destroyed_in: str | None = None


# ---------------------------------------------------------------- subjects

def subject_of(obj) -> Subject | None:
    """The subject whose key seals an audited row's values (None: the row is nobody's personal record)."""
    if isinstance(obj, Visit):
        return Subject("visit", obj.id)
    if isinstance(obj, VisitForm):
        return Subject("visit", obj.visit_id) if obj.visit_id else None
    if isinstance(obj, Household):
        return Subject("household", obj.id)
    if isinstance(obj, (Customer, ServiceEvent, WorkOrder)):
        return Subject("household", obj.household_id) if obj.household_id else None
    return None


def subject_of_record(record) -> Subject:
    """The subject a retained record's destruction shreds: a former customer's file is its household."""
    if record.record_class == "customer_file":
        subject = Subject.parse(record.reference)
        if subject is not None and subject.type == "household":
            return subject
    return Subject("record", record.id)


# ---------------------------------------------------------------- keys

def _row(row) -> KeyRow:
    return KeyRow(row.id, bytes(row.key) if row.key is not None else None, row.destroyed_at, row.destroyed_in)


def _where(subjects) -> object:
    return or_(*[and_(_KEYS.c.subject_type == s.type, _KEYS.c.subject_id == s.id) for s in subjects])


_COLUMNS = (_KEYS.c.id, _KEYS.c.subject_type, _KEYS.c.subject_id, _KEYS.c.key, _KEYS.c.destroyed_at,
            _KEYS.c.destroyed_in)
_TX_KEYS = "huifang_trail_keys"  # session.info: the keys this transaction read or made, by subject
_TX_PENDING = "huifang_trail_event_keys"  # session.info: instance → (subject, key) to remember once committed


def _insert(session):
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    return insert(_KEYS).on_conflict_do_nothing(index_elements=["subject_type", "subject_id"])


def keys_for(session, subjects: set[Subject]) -> dict[Subject, KeyRow]:
    """The key rows of these subjects, making a key for each that has none, in the session's transaction (a
    concurrent maker of the same key wins and its key is used). Rows read are kept for the rest of the
    transaction; a destroyed subject's row has ``key`` None."""
    cache = session.info.setdefault(_TX_KEYS, {})
    missing = {s for s in subjects if s not in cache}
    if missing:
        connection = session.connection()
        found = {Subject(r.subject_type, r.subject_id): _row(r)
                 for r in connection.execute(select(*_COLUMNS).where(_where(missing)))}
        new = missing - found.keys()
        if new:
            connection.execute(_insert(session), [
                {"subject_type": s.type, "subject_id": s.id, "key": AESGCM.generate_key(bit_length=256),
                 "created_at": clock.now()} for s in sorted(new, key=str)])
            found.update({Subject(r.subject_type, r.subject_id): _row(r)
                          for r in connection.execute(select(*_COLUMNS).where(_where(new)))})
        cache.update(found)
    return {s: cache[s] for s in subjects}


def destroy_key(session, subject: Subject, at: datetime, batch: str) -> bool:
    """Destroy the subject's key (the witnessed destruction, in its transaction). True if a key existed;
    a subject that never had one gets a key tombstone all the same, so none is ever made for it again."""
    session.info.setdefault(_TX_KEYS, {}).pop(subject, None)
    if has_app_context():
        _event_keys().forget(subject)  # no copy of the key stays in this process either
    connection = session.connection()
    result = connection.execute(update(_KEYS).where(
        _KEYS.c.subject_type == subject.type, _KEYS.c.subject_id == subject.id, _KEYS.c.key.is_not(None))
        .values(key=None, destroyed_at=at, destroyed_in=batch))
    if result.rowcount:
        return True
    connection.execute(_insert(session), [{"subject_type": subject.type, "subject_id": subject.id, "key": None,
                                           "created_at": at, "destroyed_at": at, "destroyed_in": batch}])
    return False


def _transaction_ended(session, *_args) -> None:
    session.info.pop(_TX_KEYS, None)
    session.info.pop(_TX_PENDING, None)


def _committed(session) -> None:
    """Keys a committed transaction used for a visit's events are remembered by instance (see ``_EventKeys``)."""
    pending = session.info.pop(_TX_PENDING, None)
    session.info.pop(_TX_KEYS, None)
    if pending and has_app_context():
        _event_keys().update(pending)


class _EventKeys:
    """Which visit and key an instance's events are sealed under, for the engine's hook, so a completion does
    not look them up again. Only what committed transactions used goes in; a key destroyed meanwhile (by
    another process) still seals — what it seals is then as unreadable as everything else under it. Reading
    never uses this: it always asks the key table."""

    def __init__(self, size: int = 4096):
        self.size = size
        self._items: OrderedDict[int, tuple[Subject, KeyRow]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, instance_id: int):
        with self._lock:
            item = self._items.get(instance_id)
            if item is not None:
                self._items.move_to_end(instance_id)
            return item

    def update(self, items: dict) -> None:
        with self._lock:
            self._items.update(items)
            while len(self._items) > self.size:
                self._items.popitem(last=False)

    def forget(self, subject: Subject) -> None:
        with self._lock:
            for instance_id in [i for i, (s, _key) in self._items.items() if s == subject]:
                del self._items[instance_id]


def _event_keys() -> _EventKeys:
    return current_app.extensions.setdefault("huifang_trail_event_keys", _EventKeys())


_connected: list[bool] = []


def connect() -> None:
    """The per-transaction key bookkeeping follows the session's transactions."""
    if not _connected:
        event.listen(Session, "after_commit", _committed)
        event.listen(Session, "after_rollback", _transaction_ended)
        event.listen(Session, "after_soft_rollback", _transaction_ended)
        _connected.append(True)


# ---------------------------------------------------------------- sealing

def _aad(subject: Subject | str, key_id: int) -> bytes:
    return f"{subject}|{key_id}".encode("ascii")


def seal(details: dict, personal: tuple[str, ...], subject: Subject, key: KeyRow) -> dict:
    """``details`` with its personal keys sealed under the subject's key (unchanged when there is nothing
    personal). A subject already destroyed seals under a key that is thrown away at once: whatever is written
    about a destroyed record later is born shredded and reads as the marker."""
    values = {name: details[name] for name in personal if name in details and details[name] not in (None, {}, [])}
    if not values:
        return details
    plaintext = json.dumps(values, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    nonce = os.urandom(_NONCE)
    secret = key.key if key.key is not None else AESGCM.generate_key(bit_length=256)
    box = AESGCM(secret).encrypt(nonce, plaintext, _aad(subject, key.id))
    out = {name: value for name, value in details.items() if name not in values}
    out[SEALED] = {"subject": str(subject), "key": key.id,
                   "fields": {name: list(value) if isinstance(value, dict) else None for name, value in values.items()},
                   "box": base64.b64encode(nonce + box).decode("ascii")}
    return out


def is_sealed(details) -> bool:
    return isinstance(details, dict) and isinstance(details.get(SEALED), dict) and "box" in details[SEALED]


_VISIT_OF_INSTANCE = None


def _visit_of_instance():
    global _VISIT_OF_INSTANCE
    if _VISIT_OF_INSTANCE is None:
        visits = Visit.__table__
        _VISIT_OF_INSTANCE = select(
            visits.c.id, _KEYS.c.id.label("key_id"), _KEYS.c.key, _KEYS.c.destroyed_at, _KEYS.c.destroyed_in
        ).select_from(visits.outerjoin(_KEYS, and_(_KEYS.c.subject_type == "visit", _KEYS.c.subject_id == visits.c.id))
                      ).where(visits.c.instance_id == bindparam("instance_id"))
    return _VISIT_OF_INSTANCE


# The visit whose flow is being started (``starting``): its first event names the household.
_starting: ContextVar[object | None] = ContextVar("huifang_starting_visit", default=None)


@contextmanager
def starting(visit):
    """Start a visit's flow: ``visit`` is flushed (it has its id) and not yet linked to an instance. The flow's
    ``instance_started`` event — whose business key is the household — is sealed under the visit's key, and
    the visit is linked to the new instance before the engine commits, so both land in one transaction."""
    token = _starting.set(visit)
    try:
        yield
    finally:
        _starting.reset(token)


def seal_engine_event(session, kind: str, instance_id: int | None, detail: dict) -> dict:
    """The engine's event hook (``Engine.event_sealer``): an event of a visit's flow instance that carries
    submitted form data stores it sealed under the visit's key; the start of a visit's flow (see
    ``starting``) seals its business key. The visit and its key are found by one query, then remembered."""
    visit = _starting.get()
    if kind == "instance_started" and visit is not None and instance_id is not None:
        visit.instance_id = instance_id  # flushed with the engine's commit
        subject = Subject("visit", visit.id)
        known = session.info.setdefault(_TX_PENDING, {})[instance_id] = (subject, keys_for(session, {subject})[subject])
        return seal(detail, STARTED_PERSONAL, *known)
    if instance_id is None or not any(detail.get(name) for name in EVENT_PERSONAL):
        return detail
    known = _event_keys().get(instance_id) if has_app_context() else None
    if known is None:
        row = session.connection().execute(_visit_of_instance(), {"instance_id": instance_id}).first()
        if row is None:
            return detail  # not a visit's flow (destruction, filing, reports, CAPA …): nobody's personal record
        subject = Subject("visit", row.id)
        if row.key_id is None:
            key = keys_for(session, {subject})[subject]
        else:
            key = KeyRow(row.key_id, bytes(row.key) if row.key is not None else None, row.destroyed_at,
                         row.destroyed_in)
        known = (subject, key)
        session.info.setdefault(_TX_PENDING, {})[instance_id] = known
    return seal(detail, EVENT_PERSONAL, *known)


# ---------------------------------------------------------------- reading

@dataclass(frozen=True)
class Destroyed:
    """A sealed entry whose key is gone: when and in which batch (None when unknown)."""
    subject: str
    at: datetime | None
    batch: str | None


class Keyring:
    """Keys for reading, fetched once per page or export by id (no key material outlives the request)."""

    def __init__(self, connection):
        self._connection = connection
        self._rows: dict[int, KeyRow | None] = {}

    def load(self, key_ids) -> None:
        wanted = {int(k) for k in key_ids if k is not None} - self._rows.keys()
        if not wanted:
            return
        for row in self._connection.execute(select(_KEYS.c.id, _KEYS.c.key, _KEYS.c.destroyed_at,
                                                   _KEYS.c.destroyed_in).where(_KEYS.c.id.in_(sorted(wanted)))):
            self._rows[row.id] = _row(row)
        for key_id in wanted - self._rows.keys():
            self._rows[key_id] = None  # no such row (e.g. removed by hand): as unreadable as a destroyed key

    def get(self, key_id: int) -> KeyRow | None:
        self.load([key_id])
        return self._rows.get(int(key_id))


def key_ids(details_list) -> set[int]:
    return {d[SEALED].get("key") for d in details_list if is_sealed(d)}


def open_details(details, ring: Keyring) -> tuple[dict, Destroyed | None]:
    """The details as written (sealed values decrypted when the key exists), and ``Destroyed`` when it was
    shredded: then each sealed key reads as the marker "destroyed with the record (RET-14), <date>", with the
    names of its fields."""
    if not is_sealed(details):
        return (details or {}), None
    envelope = details[SEALED]
    clear = {name: value for name, value in details.items() if name != SEALED}
    key = ring.get(envelope.get("key"))
    if key is not None and key.key is not None:
        try:
            raw = base64.b64decode(envelope["box"])
            plaintext = AESGCM(key.key).decrypt(raw[:_NONCE], raw[_NONCE:], _aad(envelope["subject"], key.id))
            return {**clear, **json.loads(plaintext)}, None
        except (InvalidTag, ValueError, KeyError):
            pass  # not this key's ciphertext: as unreadable as a shredded one
    destroyed = Destroyed(envelope.get("subject", ""), key.destroyed_at if key else None,
                          key.destroyed_in if key else None)
    text = marker(destroyed)
    for name, fields in (envelope.get("fields") or {}).items():
        clear[name] = f"{text} [{', '.join(fields)}]" if fields else text
    return clear, destroyed


def marker(destroyed: Destroyed) -> str:
    if destroyed.at is None:
        return gettext("destroyed with the record (RET-14)")
    return gettext("destroyed with the record (RET-14), %(date)s", date=localtime.shown_date(destroyed.at))


def opened(rows, get, connection) -> list[tuple[object, dict, Destroyed | None]]:
    """Each row with its opened details (``get(row)`` gives the stored details), keys fetched in one query."""
    ring = Keyring(connection)
    ring.load(key_ids(get(row) for row in rows))
    out = []
    for row in rows:
        details, destroyed = open_details(get(row), ring)
        out.append((row, details, destroyed))
    return out
