"""The engine's tables. Plain SQLAlchemy: the web app maps the same classes, never the reverse.

What people query is relational (open human tasks, waiting timers, the event trail); the
workflow itself is one serialized document per instance, guarded by ``lock_version``.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    DDL,
    JSON,
    BigInteger,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    event,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from .localtime import UtcDateTime

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# BigInteger ids that are still autoincrementing INTEGER PRIMARY KEYs on SQLite.
BigId = BigInteger().with_variant(Integer(), "sqlite")


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class ProcessModel(Base):
    """An SOP flow, e.g. the follow-up visit; its diagrams are the versions."""
    __tablename__ = "wf_process_model"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(100), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)

    versions: Mapped[list["ProcessVersion"]] = relationship(back_populates="model", order_by="ProcessVersion.number")

    def __repr__(self) -> str:
        return self.key


class ProcessVersion(Base):
    """One immutable deployed diagram with its forms. Instances are pinned to it."""
    __tablename__ = "wf_process_version"
    __table_args__ = (UniqueConstraint("model_id", "number"), UniqueConstraint("model_id", "content_hash"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    model_id: Mapped[int] = mapped_column(ForeignKey("wf_process_model.id"), index=True)
    number: Mapped[int] = mapped_column(Integer)
    process_id: Mapped[str] = mapped_column(String(200), index=True)
    content_hash: Mapped[str] = mapped_column(String(64))
    bpmn_xml: Mapped[str] = mapped_column(Text)
    forms: Mapped[dict] = mapped_column(JSON, default=dict)
    called_processes: Mapped[dict] = mapped_column(JSON, default=dict)
    lanes: Mapped[dict] = mapped_column(JSON, default=dict)
    user_tasks: Mapped[dict] = mapped_column(JSON, default=dict)
    comment: Mapped[str | None] = mapped_column(Text)
    created_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)

    model: Mapped[ProcessModel] = relationship(back_populates="versions")

    def __repr__(self) -> str:
        return f"{self.model.key} v{self.number}" if self.model else f"version {self.id}"


class ProcessInstance(Base):
    __tablename__ = "wf_process_instance"
    # sqlite_autoincrement: SQLite would otherwise hand a deleted row's id to the next instance, and the
    # audit trail and visits refer to instances by id.
    __table_args__ = (Index("ix_wf_process_instance_status_version", "status", "version_id"),
                      {"sqlite_autoincrement": True})

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("wf_process_version.id"))
    business_key: Mapped[str | None] = mapped_column(String(200), index=True)
    status: Mapped[str] = mapped_column(String(20))  # running | completed | cancelled | destroyed
    state: Mapped[bytes] = mapped_column(LargeBinary)
    lock_version: Mapped[int] = mapped_column(Integer, default=1)
    started_by: Mapped[str] = mapped_column(String(100))
    started_at: Mapped[datetime] = mapped_column(UtcDateTime)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    end_reason: Mapped[str | None] = mapped_column(Text)

    version: Mapped[ProcessVersion] = relationship()

    __mapper_args__ = {"version_id_col": lock_version}


class HumanTask(Base):
    """An open user task: what inboxes list without touching the workflow document."""
    __tablename__ = "wf_human_task"
    __table_args__ = (
        # Each inbox branch reads one of these in exactly its order (due_at, created_at, id).
        # Unclaimed tasks of a role: partial, because "assignee IS NULL" does not keep index order.
        Index("ix_wf_human_task_role_open", "role", "due_at", "created_at", "id",
              postgresql_where=text("assignee IS NULL"), sqlite_where=text("assignee IS NULL")),
        Index("ix_wf_human_task_assignee_due", "assignee", "due_at", "created_at", "id"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)  # the SpiffWorkflow task id
    instance_id: Mapped[int] = mapped_column(ForeignKey("wf_process_instance.id", ondelete="CASCADE"), index=True)
    bpmn_id: Mapped[str] = mapped_column(String(200))
    name: Mapped[str] = mapped_column(String(300))
    lane: Mapped[str | None] = mapped_column(String(200))
    role: Mapped[str | None] = mapped_column(String(100))
    assignee: Mapped[str | None] = mapped_column(String(100))
    form_key: Mapped[str | None] = mapped_column(String(200))
    due_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    business_key: Mapped[str | None] = mapped_column(String(200))
    process_key: Mapped[str] = mapped_column(String(100))
    version_number: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    claimed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)

    instance: Mapped[ProcessInstance] = relationship()


class Timer(Base):
    """A waiting timer event; the sweep finds due ones by ``fire_at`` alone."""
    __tablename__ = "wf_timer"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)  # the SpiffWorkflow task id of the event
    instance_id: Mapped[int] = mapped_column(ForeignKey("wf_process_instance.id", ondelete="CASCADE"), index=True)
    bpmn_id: Mapped[str] = mapped_column(String(200))
    name: Mapped[str | None] = mapped_column(String(300))
    fire_at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)


class EngineEvent(Base):
    """Append-only trail of everything the engine did, written in the same transaction."""
    __tablename__ = "wf_event"
    __table_args__ = {"sqlite_autoincrement": True}  # ids are never reused: the audit trail copies by id

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime)
    actor: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(40), index=True)
    instance_id: Mapped[int | None] = mapped_column(BigId, index=True)
    task_id: Mapped[str | None] = mapped_column(String(36), index=True)
    version_id: Mapped[int | None] = mapped_column(Integer)
    detail: Mapped[dict] = mapped_column(JSON, default=dict)


# The row count check of a step sent as one statement (statements.run_batch): raising there undoes the whole
# statement, which is its own transaction. PostgreSQL only; migration 0019 creates it too.
EXPECT_ROWS = DDL("""
CREATE OR REPLACE FUNCTION wf_expect_rows(actual bigint, expected integer, changed_table text, statement_no integer)
RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    IF actual <> expected THEN
        RAISE EXCEPTION 'wf_expect_rows: %% rows of %% changed, %% expected', actual, changed_table, expected
            USING ERRCODE = 'HF409', DETAIL = 'statement ' || statement_no;
    END IF;
END
$$""")
event.listen(Base.metadata, "after_create", EXPECT_ROWS.execute_if(dialect="postgresql"))
