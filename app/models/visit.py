"""Follow-up visits (回访): the visit rows, the serially numbered 回访记录表 and repair samples.

A Visit mirrors one flow instance for lists, statistics and merging (SMP-08/AMB-40); the engine's
document stays the source of truth for the flow itself. Constraint names are explicit so Alembic
and both backends agree.
"""
from __future__ import annotations

from datetime import datetime

from flask_appbuilder import Model
from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from workflows.localtime import UtcDateTime

VISIT_STATUSES = ["planned", "in_progress", "review", "archived", "escalated", "overdue", "cancelled"]
METHODS = ["HOME", "PHONE", "WALKABOUT", "LETTER"]


class Visit(Model):
    __tablename__ = "visit"
    __table_args__ = (UniqueConstraint("instance_id", name="uq_visit_instance_id"),
                      # the KPI queries: one project's (or all projects') visits of a period
                      Index("ix_visit_project_trigger", "project_key", "trigger_at"),
                      Index("ix_visit_trigger_at", "trigger_at"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    category: Mapped[str] = mapped_column(String(30), index=True)
    project_key: Mapped[str | None] = mapped_column(String(50), index=True)
    household_id: Mapped[int | None] = mapped_column(Integer, index=True)
    household: Mapped[str | None] = mapped_column(String(100), index=True)
    service_event_id: Mapped[int | None] = mapped_column(Integer, index=True)
    severity: Mapped[str | None] = mapped_column(String(10))
    window_opens: Mapped[datetime | None] = mapped_column(UtcDateTime)
    due_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    profile_version_id: Mapped[int | None] = mapped_column(Integer)
    process_key: Mapped[str] = mapped_column(String(100))
    instance_id: Mapped[int | None] = mapped_column(Integer)
    serial: Mapped[str | None] = mapped_column(String(40))
    visitor: Mapped[str | None] = mapped_column(String(100))
    method: Mapped[str | None] = mapped_column(String(20))
    result: Mapped[str | None] = mapped_column(String(20))
    revisits: Mapped[int] = mapped_column(Integer, default=0)
    status: Mapped[str] = mapped_column(String(20), default="planned", index=True)
    status_reason: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)
    # RET-01/AMB-10: stamped when the visit is archived (filed); from then on the record is read-only.
    archived_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    retain_until: Mapped[datetime | None] = mapped_column(UtcDateTime, index=True)
    # A legal hold blocks destruction until released; a destroyed visit stays as a tombstone.
    legal_hold: Mapped[bool] = mapped_column(Boolean, default=False)
    legal_hold_reason: Mapped[str | None] = mapped_column(String(500))
    destroyed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    # Statistics (SOP_RULES §4.4, §6): what the KPIs group and count, kept on the row so they are SQL.
    trigger_at: Mapped[datetime | None] = mapped_column(UtcDateTime)  # the period it counts in
    visited_at: Mapped[datetime | None] = mapped_column(UtcDateTime)  # on time: visited_at <= due_at
    success: Mapped[bool | None] = mapped_column(Boolean)  # reached (KPI-05) vs unreachable/refused (KPI-02)
    satisfied: Mapped[bool | None] = mapped_column(Boolean)
    qualified: Mapped[bool | None] = mapped_column(Boolean)  # the supervisor's review (FLOW-09)
    score_market: Mapped[int | None] = mapped_column(Integer)  # KPI-01: 1–10, contract-signing team
    score_operating: Mapped[int | None] = mapped_column(Integer)  # KPI-01: 1–10, operating team
    team: Mapped[str | None] = mapped_column(String(50))  # business unit / responsible department
    market_team: Mapped[str | None] = mapped_column(String(50))  # P001-S contract-signing team (KPI-08)
    # complaint cases (§5.2, KPI-15): the reply deadline and when replied/resolved; due_at is the resolve deadline
    reply_due: Mapped[datetime | None] = mapped_column(UtcDateTime)
    replied_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    resolved_at: Mapped[datetime | None] = mapped_column(UtcDateTime)

    forms: Mapped[list["VisitForm"]] = relationship(back_populates="visit", order_by="VisitForm.id")

    def __repr__(self) -> str:
        return f"visit #{self.id}"


class VisitSerial(Model):
    """The last 回访记录表 page number issued per project and year (REC-01: every page numbered).

    The row is locked (SELECT … FOR UPDATE on PostgreSQL, a write lock on SQLite) while a number is
    taken, and the number is written in the same transaction as the form that carries it, so numbers
    are never reused and never skipped.
    """
    __tablename__ = "visit_serial"
    __table_args__ = (UniqueConstraint("project_key", "year", name="uq_visit_serial_project_year"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_key: Mapped[str] = mapped_column(String(50))
    year: Mapped[int] = mapped_column(Integer)
    last_number: Mapped[int] = mapped_column(Integer, default=0)


class VisitForm(Model):
    """One signed-out 回访记录表. A voided form stays on record with its reason (FLOW-03)."""
    __tablename__ = "visit_form"
    __table_args__ = (UniqueConstraint("project_key", "year", "number", name="uq_visit_form_number"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    visit_id: Mapped[int] = mapped_column(ForeignKey("visit.id", name="fk_visit_form_visit"), index=True)
    project_key: Mapped[str] = mapped_column(String(50))
    year: Mapped[int] = mapped_column(Integer)
    number: Mapped[int] = mapped_column(Integer)
    serial: Mapped[str] = mapped_column(String(40))
    signed_out_by: Mapped[str] = mapped_column(String(100))
    signed_out_at: Mapped[datetime] = mapped_column(UtcDateTime)
    status: Mapped[str] = mapped_column(String(20), default="signed_out")
    void_reason: Mapped[str | None] = mapped_column(Text)
    voided_by: Mapped[str | None] = mapped_column(String(100))
    voided_at: Mapped[datetime | None] = mapped_column(UtcDateTime)

    visit: Mapped[Visit] = relationship(back_populates="forms")

    def __repr__(self) -> str:
        return self.serial


class RepairSample(Model):
    """One draw of repair orders (SMP-01/02, SMP-04): seed, population and sample kept for audit (SMP-10).
    A month (YYYY-MM) for monthly samples (P002), a day (YYYY-MM-DD) for profiles whose short windows run
    from each repair's completion (fixed rates, every repair)."""
    __tablename__ = "visit_repair_sample"
    __table_args__ = (UniqueConstraint("project_key", "period", name="uq_visit_repair_sample_period"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_key: Mapped[str] = mapped_column(String(50))
    period: Mapped[str] = mapped_column(String(10))  # YYYY-MM or YYYY-MM-DD
    seed: Mapped[str] = mapped_column(String(64))
    population: Mapped[list] = mapped_column(JSON)
    sample: Mapped[list] = mapped_column(JSON)
    home: Mapped[list] = mapped_column(JSON)
    rate: Mapped[str | None] = mapped_column(String(20))
    created_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)


class DestructionEntry(Model):
    """文件/记录销毁登记表 (RET-14): one row per destroyed record — a visit, or a retained record of another
    class (``record_id``, its class in ``category``) — kept permanently (append-only; PostgreSQL refuses
    UPDATE and DELETE)."""
    __tablename__ = "destruction_register"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    batch: Mapped[str] = mapped_column(String(40), index=True)
    visit_id: Mapped[int | None] = mapped_column(Integer, index=True)
    record_id: Mapped[int | None] = mapped_column(Integer, index=True)
    serials: Mapped[list] = mapped_column(JSON, default=list)
    category: Mapped[str | None] = mapped_column(String(30))
    archived_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    retain_until: Mapped[datetime | None] = mapped_column(UtcDateTime)
    proposed_by: Mapped[str] = mapped_column(String(100))
    approved_by: Mapped[str] = mapped_column(String(100))
    witnessed_by: Mapped[str] = mapped_column(String(100))
    method: Mapped[str] = mapped_column(String(30))
    destroyed_at: Mapped[datetime] = mapped_column(UtcDateTime)
    instance_id: Mapped[int] = mapped_column(Integer)
    # Crypto-shredding: the subject whose trail key went with the record ("visit:12", "household:3") and
    # whether a key existed (False: nothing had been sealed under it; NULL: destroyed before keys existed).
    trail_subject: Mapped[str | None] = mapped_column(String(60))
    trail_key_destroyed: Mapped[bool | None] = mapped_column(Boolean)
