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
from sqlalchemy import JSON, BigInteger, DateTime, Index, Integer, String, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

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
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
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
