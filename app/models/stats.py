"""Statistics, CAPA, themes and surveys (SOP_RULES §4.2, §4.4, §6, §2.10, §9; issue 6).

The KPIs themselves are not stored: they are SQL over the visit and service-event rows
(app/services/kpis.py). What is stored is what people start or decide: one periodic report flow per
project and period (exactly once), CAPAs with the finding they answer, the quarter's visit theme, and
satisfaction surveys with their answers. Constraint names are explicit so Alembic and both backends agree.
"""
from __future__ import annotations

from datetime import datetime

from flask_appbuilder import Model
from sqlalchemy import JSON, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from workflows.localtime import UtcDateTime


class PeriodicReport(Model):
    """One periodic report flow (月回访汇总表, 回访率报表, period statistics) of a project and period.
    The unique key makes the worker start each one exactly once, however many workers race."""
    __tablename__ = "stats_report"
    __table_args__ = (UniqueConstraint("kind", "project_key", "period", name="uq_stats_report_period"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(30))  # monthly_summary | rate_report | statistics
    period_kind: Mapped[str] = mapped_column(String(10))  # month | quarter | half_year | year
    project_key: Mapped[str] = mapped_column(String(50), index=True)
    period: Mapped[str] = mapped_column(String(20))
    covers_from: Mapped[datetime] = mapped_column(UtcDateTime)
    covers_until: Mapped[datetime] = mapped_column(UtcDateTime)
    opens_at: Mapped[datetime] = mapped_column(UtcDateTime)
    due_at: Mapped[datetime] = mapped_column(UtcDateTime)
    instance_id: Mapped[int | None] = mapped_column(Integer, index=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)

    def __repr__(self) -> str:
        return f"{self.kind} {self.project_key} {self.period}"


class Capa(Model):
    """纠正与预防措施 (FLOW-14, REC-22): one CAPA per finding, with the finding as it was when started."""
    __tablename__ = "stats_capa"
    __table_args__ = (UniqueConstraint("finding_key", name="uq_stats_capa_finding"),
                      UniqueConstraint("number", name="uq_stats_capa_number"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    number: Mapped[str] = mapped_column(String(30))
    project_key: Mapped[str | None] = mapped_column(String(50), index=True)
    rule: Mapped[str] = mapped_column(String(30))
    finding_key: Mapped[str] = mapped_column(String(200))
    period: Mapped[str | None] = mapped_column(String(20))
    title: Mapped[str] = mapped_column(String(300))
    finding: Mapped[dict] = mapped_column(JSON)
    visit_ids: Mapped[list] = mapped_column(JSON, default=list)
    instance_id: Mapped[int | None] = mapped_column(Integer, index=True)
    status: Mapped[str] = mapped_column(String(20), default="open")
    created_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    closed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)

    def __repr__(self) -> str:
        return self.number


class VisitTheme(Model):
    """GOV-01: the company's visit theme of a quarter (主题), part of every visit's content that quarter.
    scope: "company", or a project key for a project's own choice under the theme."""
    __tablename__ = "stats_theme"
    __table_args__ = (UniqueConstraint("quarter", "scope", name="uq_stats_theme_quarter"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    quarter: Mapped[str] = mapped_column(String(10))
    scope: Mapped[str] = mapped_column(String(50), default="company")
    theme: Mapped[str] = mapped_column(String(200))
    content: Mapped[str | None] = mapped_column(Text)
    published_by: Mapped[str] = mapped_column(String(100))
    published_at: Mapped[datetime] = mapped_column(UtcDateTime)

    def __repr__(self) -> str:
        return f"{self.quarter} {self.theme}"


class Survey(Model):
    """A satisfaction survey of a project's households (CAT-SV-05, GOV-11; half-yearly by default, AMB-11)."""
    __tablename__ = "stats_survey"
    __table_args__ = (UniqueConstraint("project_key", "period", name="uq_stats_survey_period"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_key: Mapped[str] = mapped_column(String(50))
    period: Mapped[str] = mapped_column(String(20))
    items: Mapped[list] = mapped_column(JSON)  # the questions, e.g. ["维修质量", "保洁", …]
    issued_by: Mapped[str] = mapped_column(String(100))
    issued_at: Mapped[datetime] = mapped_column(UtcDateTime)

    responses: Mapped[list["SurveyResponse"]] = relationship(back_populates="survey",
                                                             order_by="SurveyResponse.id")

    def __repr__(self) -> str:
        return f"{self.project_key} {self.period}"


class SurveyResponse(Model):
    """One household's answers (REC-14): each item satisfied or not, with the specific reason for
    "unsatisfied" (CAT-SV-01); every unsatisfied item becomes a follow-up visit (CAT-SV-02)."""
    __tablename__ = "stats_survey_response"
    __table_args__ = (UniqueConstraint("survey_id", "household_id", name="uq_stats_survey_response_household"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    survey_id: Mapped[int] = mapped_column(ForeignKey("stats_survey.id", name="fk_stats_survey_response_survey"),
                                           index=True)
    household_id: Mapped[int] = mapped_column(Integer, index=True)
    household: Mapped[str | None] = mapped_column(String(100))
    answers: Mapped[list] = mapped_column(JSON)  # [{"item", "satisfied", "reason", "suggestion"}]
    unsatisfied: Mapped[int] = mapped_column(Integer, default=0)
    visit_ids: Mapped[list] = mapped_column(JSON, default=list)
    recorded_by: Mapped[str] = mapped_column(String(100))
    recorded_at: Mapped[datetime] = mapped_column(UtcDateTime)

    survey: Mapped[Survey] = relationship(back_populates="responses")
