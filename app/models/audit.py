"""The audit trail: one append-only, hash-chained table for everything an auditor must see.

Writers only INSERT, each row carrying the hash of its own content; the sealer (``flask audit seal``,
run by every worker sweep) later gives committed rows their place in the chain (``seq``, ``prev_hash``,
``chain_hash``) one at a time, so concurrent writers never wait on a chain head. Engine events
(``wf_event``) are copied in by the sealer. On PostgreSQL a trigger refuses DELETE, and any UPDATE other
than sealing an unsealed row (migration 0009).
"""
from __future__ import annotations

from datetime import datetime

from flask_appbuilder import Model
from sqlalchemy import JSON, BigInteger, Index, Integer, LargeBinary, String, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from workflows.localtime import UtcDateTime

BigId = BigInteger().with_variant(Integer(), "sqlite")


class AuditEntry(Model):
    __tablename__ = "audit_entry"
    __table_args__ = (
        UniqueConstraint("seq", name="uq_audit_entry_seq"),
        UniqueConstraint("source", "source_id", name="uq_audit_entry_source"),  # an engine event is copied once
        Index("ix_audit_entry_target", "target_type", "target_id"),
        Index("ix_audit_entry_unsealed", "id", postgresql_where=text("seq IS NULL"),
              sqlite_where=text("seq IS NULL")),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)
    actor: Mapped[str] = mapped_column(String(100), index=True)
    action: Mapped[str] = mapped_column(String(60), index=True)
    target_type: Mapped[str | None] = mapped_column(String(60))
    target_id: Mapped[str | None] = mapped_column(String(100))
    details: Mapped[dict] = mapped_column(JSON, default=dict)
    ip: Mapped[str | None] = mapped_column(String(64))
    request_id: Mapped[str | None] = mapped_column(String(64))
    source: Mapped[str] = mapped_column(String(10), default="app")  # app | engine
    source_id: Mapped[int | None] = mapped_column(BigInteger)  # wf_event.id of an engine event
    content_hash: Mapped[str] = mapped_column(String(64))
    seq: Mapped[int | None] = mapped_column(BigInteger)
    prev_hash: Mapped[str | None] = mapped_column(String(64))
    chain_hash: Mapped[str | None] = mapped_column(String(64))

    def __repr__(self) -> str:
        return f"{self.action} #{self.id}"


class TrailKey(Model):
    """The data key under which the trail keeps one subject's personal values sealed (crypto-shredding, RET-14).

    A subject is what the witnessed destruction destroys: a visit (``visit``, its id), a household's file
    (``household``, its id; its customers, service events and work orders too) or another retained record
    (``record``, its id). The key is made on first use; destroying the subject sets ``key`` to NULL in the same
    transaction as its tombstone and register entry, and the row stays as the key's own tombstone (when, in
    which batch), so sealed entries name a date and nothing ever makes a new key for that subject. Unlike the
    trail this table is not append-only: its only change is that destruction.
    """
    __tablename__ = "audit_trail_key"
    __table_args__ = (UniqueConstraint("subject_type", "subject_id", name="uq_audit_trail_key_subject"),
                      {"sqlite_autoincrement": True})  # entries name their key by id: never reused

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    subject_type: Mapped[str] = mapped_column(String(20))
    subject_id: Mapped[int] = mapped_column(BigInteger)
    key: Mapped[bytes | None] = mapped_column(LargeBinary)  # 32 random bytes (AES-256-GCM); NULL once destroyed
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    destroyed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    destroyed_in: Mapped[str | None] = mapped_column(String(40))  # the destruction batch

    def __repr__(self) -> str:
        return f"trail key of {self.subject_type}:{self.subject_id}"
