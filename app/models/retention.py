"""Filed records other than visits, each with its retention class (AMB-10): sign-out sheets and monthly
summaries (2 years, RET-01), former customers' household files (13 years, RET-11), call recordings
(15 years, RET-05). A visit carries its own filing stamps (app/models/visit.py)."""
from __future__ import annotations

from datetime import datetime

from flask_appbuilder import Model
from sqlalchemy import Boolean, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from workflows.localtime import UtcDateTime

RECORD_CLASSES = ["signout_sheet", "monthly_summary", "customer_file", "call_recording"]


class RetainedRecord(Model):
    __tablename__ = "retention_record"
    __table_args__ = (UniqueConstraint("record_class", "reference", name="uq_retention_record_class_reference"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    record_class: Mapped[str] = mapped_column(String(30), index=True)
    reference: Mapped[str] = mapped_column(String(200))  # e.g. "household:12", "P1:2026-03-01"
    project_key: Mapped[str | None] = mapped_column(String(50))
    title: Mapped[str | None] = mapped_column(String(300))
    filed_by: Mapped[str] = mapped_column(String(100))
    filed_at: Mapped[datetime] = mapped_column(UtcDateTime)
    retain_until: Mapped[datetime] = mapped_column(UtcDateTime, index=True)
    legal_hold: Mapped[bool] = mapped_column(Boolean, default=False)
    legal_hold_reason: Mapped[str | None] = mapped_column(String(500))
    destroyed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)

    def __repr__(self) -> str:
        return f"{self.record_class} {self.reference}"
