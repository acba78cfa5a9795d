"""Statistics, KPIs, CAPA, themes and surveys (issue 6): the visit columns the KPIs group and count,
periodic report flows (exactly once per project and period), CAPAs, quarterly themes, surveys

Revision ID: 0017_stats
Revises: 0016_modeler
"""
import sqlalchemy as sa
from alembic import op

revision = "0017_stats"
down_revision = "0016_modeler"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)
VISIT_COLUMNS = [
    ("trigger_at", TS), ("visited_at", TS), ("success", sa.Boolean()), ("satisfied", sa.Boolean()),
    ("qualified", sa.Boolean()), ("score_market", sa.Integer()), ("score_operating", sa.Integer()),
    ("team", sa.String(50)), ("market_team", sa.String(50)), ("reply_due", TS), ("replied_at", TS),
    ("resolved_at", TS),
]


def upgrade():
    with op.batch_alter_table("visit") as batch:
        for name, type_ in VISIT_COLUMNS:
            batch.add_column(sa.Column(name, type_, nullable=True))
    # visits recorded before this migration count in the period they were planned in
    op.execute("UPDATE visit SET trigger_at = created_at WHERE trigger_at IS NULL")
    op.create_index("ix_visit_project_trigger", "visit", ["project_key", "trigger_at"])
    op.create_index("ix_visit_trigger_at", "visit", ["trigger_at"])
    op.create_index("ix_intake_service_event_category_received", "intake_service_event", ["category", "received_at"])
    op.create_index("ix_intake_service_event_completed_at", "intake_service_event", ["completed_at"])

    op.create_table(
        "stats_report",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("kind", sa.String(30), nullable=False),
        sa.Column("period_kind", sa.String(10), nullable=False),
        sa.Column("project_key", sa.String(50), nullable=False),
        sa.Column("period", sa.String(20), nullable=False),
        sa.Column("covers_from", TS, nullable=False),
        sa.Column("covers_until", TS, nullable=False),
        sa.Column("opens_at", TS, nullable=False),
        sa.Column("due_at", TS, nullable=False),
        sa.Column("instance_id", sa.Integer()),
        sa.Column("created_at", TS, nullable=False),
        sa.UniqueConstraint("kind", "project_key", "period", name="uq_stats_report_period"),
    )
    op.create_index("ix_stats_report_project_key", "stats_report", ["project_key"])
    op.create_index("ix_stats_report_instance_id", "stats_report", ["instance_id"])

    op.create_table(
        "stats_capa",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("number", sa.String(30), nullable=False),
        sa.Column("project_key", sa.String(50)),
        sa.Column("rule", sa.String(30), nullable=False),
        sa.Column("finding_key", sa.String(200), nullable=False),
        sa.Column("period", sa.String(20)),
        sa.Column("title", sa.String(300), nullable=False),
        sa.Column("finding", sa.JSON(), nullable=False),
        sa.Column("visit_ids", sa.JSON(), nullable=False),
        sa.Column("instance_id", sa.Integer()),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("created_by", sa.String(100), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("closed_at", TS),
        sa.UniqueConstraint("finding_key", name="uq_stats_capa_finding"),
        sa.UniqueConstraint("number", name="uq_stats_capa_number"),
    )
    op.create_index("ix_stats_capa_project_key", "stats_capa", ["project_key"])
    op.create_index("ix_stats_capa_instance_id", "stats_capa", ["instance_id"])

    op.create_table(
        "stats_theme",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("quarter", sa.String(10), nullable=False),
        sa.Column("scope", sa.String(50), nullable=False),
        sa.Column("theme", sa.String(200), nullable=False),
        sa.Column("content", sa.Text()),
        sa.Column("published_by", sa.String(100), nullable=False),
        sa.Column("published_at", TS, nullable=False),
        sa.UniqueConstraint("quarter", "scope", name="uq_stats_theme_quarter"),
    )

    op.create_table(
        "stats_survey",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("project_key", sa.String(50), nullable=False),
        sa.Column("period", sa.String(20), nullable=False),
        sa.Column("items", sa.JSON(), nullable=False),
        sa.Column("issued_by", sa.String(100), nullable=False),
        sa.Column("issued_at", TS, nullable=False),
        sa.UniqueConstraint("project_key", "period", name="uq_stats_survey_period"),
    )
    op.create_table(
        "stats_survey_response",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("survey_id", sa.Integer(), sa.ForeignKey("stats_survey.id", name="fk_stats_survey_response_survey"),
                  nullable=False),
        sa.Column("household_id", sa.Integer(), nullable=False),
        sa.Column("household", sa.String(100)),
        sa.Column("answers", sa.JSON(), nullable=False),
        sa.Column("unsatisfied", sa.Integer(), nullable=False),
        sa.Column("visit_ids", sa.JSON(), nullable=False),
        sa.Column("recorded_by", sa.String(100), nullable=False),
        sa.Column("recorded_at", TS, nullable=False),
        sa.UniqueConstraint("survey_id", "household_id", name="uq_stats_survey_response_household"),
    )
    op.create_index("ix_stats_survey_response_survey_id", "stats_survey_response", ["survey_id"])
    op.create_index("ix_stats_survey_response_household_id", "stats_survey_response", ["household_id"])


def downgrade():
    op.drop_table("stats_survey_response")
    op.drop_table("stats_survey")
    op.drop_table("stats_theme")
    op.drop_table("stats_capa")
    op.drop_table("stats_report")
    op.drop_index("ix_intake_service_event_completed_at", table_name="intake_service_event")
    op.drop_index("ix_intake_service_event_category_received", table_name="intake_service_event")
    op.drop_index("ix_visit_trigger_at", table_name="visit")
    op.drop_index("ix_visit_project_trigger", table_name="visit")
    with op.batch_alter_table("visit") as batch:
        for name, _type in reversed(VISIT_COLUMNS):
            batch.drop_column(name)
