"""Policy profiles (SOP_RULES §0.3) and their immutable versions; per-project overrides.

Versions are append-only: an edit creates a new row with who/when/why, and a visit keeps the id of
the version it was planned under (FLOWS stores ``profile_version_id``). Updating or deleting a
version row is refused at flush time.
"""
from __future__ import annotations

from datetime import datetime

from flask_appbuilder import Model
from sqlalchemy import JSON, ForeignKey, Integer, String, Text, UniqueConstraint, event
from sqlalchemy.orm import Mapped, mapped_column, relationship

from workflows.localtime import UtcDateTime


class PolicyProfile(Model):
    __tablename__ = "policy_profile"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(20), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    domain: Mapped[str] = mapped_column(String(50))
    source: Mapped[str] = mapped_column(String(300))

    versions: Mapped[list["PolicyProfileVersion"]] = relationship(
        back_populates="profile", order_by="PolicyProfileVersion.number")

    def __repr__(self) -> str:
        return f"{self.code} {self.name}"


class PolicyProfileVersion(Model):
    __tablename__ = "policy_profile_version"
    __table_args__ = (UniqueConstraint("profile_id", "number", name="uq_policy_profile_version_number"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    profile_id: Mapped[int] = mapped_column(ForeignKey("policy_profile.id", name="fk_policy_profile_version_profile"),
                                            index=True)
    number: Mapped[int] = mapped_column(Integer)
    params: Mapped[dict] = mapped_column(JSON)
    effective_from: Mapped[datetime] = mapped_column(UtcDateTime)
    created_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    reason: Mapped[str] = mapped_column(Text)

    profile: Mapped[PolicyProfile] = relationship(back_populates="versions")

    def __repr__(self) -> str:
        return f"{self.profile.code if self.profile else self.profile_id} v{self.number}"


class ProjectPolicyVersion(Model):
    """A project's choice of profile plus its overrides; each change is a new numbered row."""
    __tablename__ = "policy_project_version"
    __table_args__ = (UniqueConstraint("project_key", "number", name="uq_policy_project_version_number"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_key: Mapped[str] = mapped_column(String(50), index=True)
    profile_code: Mapped[str] = mapped_column(String(20))
    overrides: Mapped[dict] = mapped_column(JSON)
    number: Mapped[int] = mapped_column(Integer)
    created_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    reason: Mapped[str] = mapped_column(Text)

    def __repr__(self) -> str:
        return f"{self.project_key} v{self.number} ({self.profile_code})"


class ImmutableVersion(Exception):
    pass


def _refuse_change(mapper, connection, target):
    raise ImmutableVersion(f"{type(target).__name__} {target.id} is immutable; create a new version instead")


for _model in (PolicyProfileVersion, ProjectPolicyVersion):
    event.listen(_model, "before_update", _refuse_change)
    event.listen(_model, "before_delete", _refuse_change)
