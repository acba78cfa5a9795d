"""What the inbox keeps beside the engine's task rows: half-filled task forms (drafts)."""
from __future__ import annotations

from datetime import datetime

from flask_appbuilder import Model
from sqlalchemy import JSON, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from workflows.localtime import UtcDateTime


class TaskDraft(Model):
    """A user's unsent values for one open task; removed when the task is completed.

    One draft per task and user: two people who may work the same pooled task never overwrite
    each other's notes, and the revision number makes a save from a stale page a conflict."""
    __tablename__ = "inbox_task_draft"
    __table_args__ = (UniqueConstraint("task_id", "username", name="uq_inbox_task_draft_task_user"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    task_id: Mapped[str] = mapped_column(String(36), index=True)
    username: Mapped[str] = mapped_column(String(100))
    data: Mapped[dict] = mapped_column(JSON)
    revision: Mapped[int] = mapped_column(Integer, default=1)
    saved_at: Mapped[datetime] = mapped_column(UtcDateTime)
