"""The modeler's drafts: a process owner's unfinished diagram, saved on the server (issue 7).

One draft per process model and owner: saving again replaces it; deploying the diagram removes it.
A draft is never run; only a deployed version (``wf_process_version``, immutable) is.
"""
from __future__ import annotations

from datetime import datetime

from flask_appbuilder import Model
from sqlalchemy import JSON, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from workflows.localtime import UtcDateTime


class ProcessDraft(Model):
    __tablename__ = "modeler_draft"
    __table_args__ = (UniqueConstraint("model_key", "owner", name="uq_modeler_draft_model_key_owner"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    model_key: Mapped[str] = mapped_column(String(100))
    owner: Mapped[str] = mapped_column(String(100))
    # the deployed version the draft was opened from (None: a new model). A plain id, as visits keep theirs:
    # the engine's tables live in their own metadata.
    base_version_id: Mapped[int | None] = mapped_column(Integer)
    bpmn_xml: Mapped[str] = mapped_column(Text)
    forms: Mapped[dict] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)

    def __repr__(self) -> str:
        return f"draft of {self.model_key} by {self.owner}"
