"""Intake (首接负责制, SOP_RULES §5.5): projects, households, customers, service events, work orders.

Everything a follow-up visit is about enters here; FLOWS listens to ``service_event_recorded``.
Constraint names are explicit so Alembic and both backends agree.
"""
from __future__ import annotations

from datetime import datetime

from flask_appbuilder import Model
from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from workflows.localtime import UtcDateTime

# SOP_RULES §2 category names, shared with POLICY and FLOWS.
CATEGORIES = ["complaint", "repair", "special_service", "help", "emergency_patient", "publication_event",
              "decoration", "survey_item", "other"]
# AMB-25: one three-level scale; "一般" = IMPORTANT ∪ MINOR.
SEVERITIES = ["MAJOR", "IMPORTANT", "MINOR"]
# FC-02 (a)–(g): where the information came from.
SOURCES = {
    "a": "customer phoned the project 客户来电",
    "b": "collected by the customer-service dept 客服部收集",
    "c": "forwarded by the company 公司转来",
    "d": "owner at the front desk 前台来访",
    "e": "forwarded by the owners' committee 业委会转来",
    "f": "told any project staff verbally 口头告知员工",
    "g": "submitted in writing 书面提交",
}
STATUSES = ["received", "dispatched", "in_progress", "completed", "closed"]
ROLES_IN_HOUSEHOLD = ["owner", "tenant", "other"]
# FC-06 routing departments.
DEPARTMENTS = ["customer_service", "engineering", "service", "security", "project_head"]


class Project(Model):
    """A 管理处/项目; its policy profile code picks the SOP variant (default P000-3, the AMB defaults)."""
    __tablename__ = "intake_project"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(50), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    property_type: Mapped[str] = mapped_column(String(50), default="residential")
    # RET-09: the property code that prefixes every household file number.
    property_code: Mapped[str] = mapped_column(String(20))
    policy_profile: Mapped[str] = mapped_column(String(20), default="P000-3")

    households: Mapped[list["Household"]] = relationship(back_populates="project")

    def __repr__(self) -> str:
        return self.name


class Household(Model):
    """One unit (户). RET-09: one file per household, file no. = property code + building + room."""
    __tablename__ = "intake_household"
    __table_args__ = (UniqueConstraint("project_id", "building", "room", name="uq_intake_household_room"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("intake_project.id", name="fk_intake_household_project"),
                                            index=True)
    building: Mapped[str] = mapped_column(String(20))
    unit: Mapped[str | None] = mapped_column(String(20))
    room: Mapped[str] = mapped_column(String(20))
    file_no: Mapped[str] = mapped_column(String(60), unique=True)
    # REC-07: key customers (重点客户) are visited by the project manager; former customers stay on file.
    key_customer: Mapped[bool] = mapped_column(Boolean, default=False)
    former_customer: Mapped[bool] = mapped_column(Boolean, default=False)

    project: Mapped[Project] = relationship(back_populates="households")
    customers: Mapped[list["Customer"]] = relationship(back_populates="household")

    @property
    def label(self) -> str:
        return f"{self.building}-{self.room}"

    def __repr__(self) -> str:
        return f"{self.file_no}"


class Customer(Model):
    """A person of a household. Phone and ID number are shown masked unless the user may unmask."""
    __tablename__ = "intake_customer"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    household_id: Mapped[int] = mapped_column(ForeignKey("intake_household.id", name="fk_intake_customer_household"),
                                              index=True)
    name: Mapped[str] = mapped_column(String(100))
    role: Mapped[str] = mapped_column(String(20), default="owner")
    phone: Mapped[str | None] = mapped_column(String(30))
    id_number: Mapped[str | None] = mapped_column(String(30))
    contact_notes: Mapped[str | None] = mapped_column(Text)

    household: Mapped[Household] = relationship(back_populates="customers")

    def __repr__(self) -> str:
        return self.name


class ServiceEvent(Model):
    """Any customer information received (FC-01): complaint, repair, special service, help …"""
    __tablename__ = "intake_service_event"
    # the statistics (issue 6): a period's complaints received / events completed
    __table_args__ = (Index("ix_intake_service_event_category_received", "category", "received_at"),
                      Index("ix_intake_service_event_completed_at", "completed_at"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("intake_project.id", name="fk_intake_service_event_project"),
                                            index=True)
    household_id: Mapped[int | None] = mapped_column(
        ForeignKey("intake_household.id", name="fk_intake_service_event_household"), index=True)
    category: Mapped[str] = mapped_column(String(30), index=True)
    severity: Mapped[str | None] = mapped_column(String(10))
    source: Mapped[str] = mapped_column(String(1), default="a")
    # AMB-34: same-matter key = household + category + subject tag.
    subject: Mapped[str | None] = mapped_column(String(100), index=True)
    content: Mapped[str] = mapped_column(Text)
    received_at: Mapped[datetime] = mapped_column(UtcDateTime)
    received_by: Mapped[str] = mapped_column(String(100))
    completed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    status: Mapped[str] = mapped_column(String(20), default="received", index=True)
    routed_to: Mapped[str | None] = mapped_column(String(30))
    contract_start: Mapped[datetime | None] = mapped_column(UtcDateTime)
    contract_end: Mapped[datetime | None] = mapped_column(UtcDateTime)
    work_order_no: Mapped[str | None] = mapped_column(String(50))
    extra: Mapped[dict | None] = mapped_column(JSON)
    # AMB-34: a second report (another channel) of a matter that is still open joins that case.
    duplicate_of_id: Mapped[int | None] = mapped_column(
        ForeignKey("intake_service_event.id", name="fk_intake_service_event_duplicate_of"), index=True)

    project: Mapped[Project] = relationship()
    household: Mapped[Household | None] = relationship()

    def __repr__(self) -> str:
        return f"{self.category} #{self.id}"


class WorkOrder(Model):
    """派工单 (REC-12): service type, household, assigned staff, completion time, sampled flag."""
    __tablename__ = "intake_work_order"
    __table_args__ = (UniqueConstraint("project_id", "number", name="uq_intake_work_order_number"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("intake_project.id", name="fk_intake_work_order_project"),
                                            index=True)
    number: Mapped[str] = mapped_column(String(50))
    service_type: Mapped[str] = mapped_column(String(30))
    household_id: Mapped[int] = mapped_column(ForeignKey("intake_household.id", name="fk_intake_work_order_household"),
                                              index=True)
    assigned_staff: Mapped[str | None] = mapped_column(String(100))
    completed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    sampled: Mapped[bool] = mapped_column(Boolean, default=False)
    service_event_id: Mapped[int | None] = mapped_column(
        ForeignKey("intake_service_event.id", name="fk_intake_work_order_service_event"), index=True)

    project: Mapped[Project] = relationship()
    household: Mapped[Household] = relationship()
    service_event: Mapped[ServiceEvent | None] = relationship()

    def __repr__(self) -> str:
        return self.number


class FileLoan(Model):
    """文件借阅/复制登记表 (RET-18…21): every viewing, borrowing or copying of a household file, with its approval."""
    __tablename__ = "intake_file_loan"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    household_id: Mapped[int] = mapped_column(ForeignKey("intake_household.id", name="fk_intake_file_loan_household"),
                                              index=True)
    kind: Mapped[str] = mapped_column(String(10))  # view | borrow | copy
    party: Mapped[str] = mapped_column(String(10))  # internal | external (police, court, lawyer … RET-19)
    requester: Mapped[str] = mapped_column(String(100))
    purpose: Mapped[str] = mapped_column(Text)
    credentials: Mapped[str | None] = mapped_column(String(300))  # external: introduction letter / ID
    status: Mapped[str] = mapped_column(String(10), default="requested", index=True)
    approver: Mapped[str | None] = mapped_column(String(100))
    decision_note: Mapped[str | None] = mapped_column(Text)
    requested_at: Mapped[datetime] = mapped_column(UtcDateTime)
    decided_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    returned_at: Mapped[datetime | None] = mapped_column(UtcDateTime)

    household: Mapped[Household] = relationship()
