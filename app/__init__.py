"""The Huifang web application: Flask-AppBuilder over the workflow engine."""
from __future__ import annotations

from datetime import timezone
from zoneinfo import ZoneInfo

from flask import Flask
from flask_appbuilder import AppBuilder, IndexView
from flask_wtf.csrf import CSRFProtect

from workflows import clock

from .extensions import db, migrate


class HomeView(IndexView):
    index_template = "index.html"


def create_app(overrides: dict | None = None) -> Flask:
    app = Flask(__name__)
    app.config.from_object("config")
    app.config.update(overrides or {})

    db.init_app(app)
    # Before AppBuilder: its API blueprints exempt themselves from this; the pages' forms are checked.
    CSRFProtect(app)
    migrate.init_app(app, db, directory=str(_migrations_dir()), render_as_batch=True, compare_type=True)

    with app.app_context():
        from .security import security_manager_class

        appbuilder = AppBuilder(indexview=HomeView, update_perms=app.config["FAB_UPDATE_PERMS"],
                                security_manager_class=security_manager_class())
        appbuilder.init_app(app, db.session)
        _register(appbuilder)

    from .services import audit, retention

    audit.init_app(app)
    retention.connect()
    _template_helpers(app)
    from .cli import huifang

    app.cli.add_command(huifang)
    from .cli_policy import policy

    app.cli.add_command(policy)
    from .cli_audit import audit as audit_cli

    app.cli.add_command(audit_cli)
    return app


def _migrations_dir():
    from pathlib import Path

    return Path(__file__).resolve().parents[1] / "migrations"


def _register(appbuilder: AppBuilder) -> None:
    from flask_babel import lazy_gettext as _l

    from .api.engine_api import EventApi, InstanceApi, ProcessModelApi, TaskApi
    from .views.engine_views import EngineEventView, InstanceView, ProcessModelView, ProcessVersionView
    from .views.inbox_views import InboxView, install_task_badge
    from .views.print_views import PrintView

    appbuilder.add_view(InboxView, "My tasks", label=_l("My tasks"), icon="fa-inbox", category="Work",
                        category_label=_l("Work"))
    appbuilder.add_link("Team workload", href="/inbox/team", label=_l("Team workload"), icon="fa-users",
                        category="Work")
    appbuilder.add_view(PrintView, "Print forms", label=_l("Print forms"), icon="fa-print", category="Work")
    install_task_badge()
    appbuilder.add_view(ProcessModelView, "Process models", label=_l("Process models"), icon="fa-sitemap",
                        category="Processes", category_label=_l("Processes"))
    appbuilder.add_view_no_menu(ProcessVersionView)
    from .views.modeler_views import ModelerView

    appbuilder.add_view(ModelerView, "Modeler", label=_l("Modeler"), icon="fa-pencil-square-o", category="Processes")
    appbuilder.add_view(InstanceView, "Instances", label=_l("Instances"), icon="fa-cogs", category="Processes")
    appbuilder.add_view(EngineEventView, "Engine events", label=_l("Engine events"), icon="fa-history",
                        category="Audit", category_label=_l("Audit"))
    from .api.inbox_api import InboxApi

    for api in (TaskApi, InboxApi, InstanceApi, ProcessModelApi, EventApi):
        appbuilder.add_api(api)
    _register_intake(appbuilder, _l)
    _register_policy(appbuilder, _l)
    _register_visits(appbuilder, _l)
    _register_notify(appbuilder, _l)
    _register_audit(appbuilder, _l)
    _register_stats(appbuilder, _l)


def _register_intake(appbuilder: AppBuilder, _l) -> None:
    """INTAKE (SOP_RULES §5.5): projects, households, customers, service events, work orders."""
    from .api.intake_api import CustomerApi, HouseholdApi, ServiceEventApi, WorkOrderApi
    from .views.intake_views import (CustomerView, HouseholdView, ProjectView, ServiceEventView, WorkOrderImportView,
                                     WorkOrderView)

    menu = {"category": "Intake", "category_label": _l("Intake"), "category_icon": "fa-phone"}
    appbuilder.add_view(ServiceEventView, "Service events", label=_l("Service events"), icon="fa-bell", **menu)
    appbuilder.add_view(HouseholdView, "Households", label=_l("Households"), icon="fa-home", **menu)
    appbuilder.add_view(CustomerView, "Customers", label=_l("Customers"), icon="fa-user", **menu)
    appbuilder.add_view(ProjectView, "Projects", label=_l("Projects"), icon="fa-building", **menu)
    appbuilder.add_view(WorkOrderView, "Work orders", label=_l("Work orders"), icon="fa-wrench", **menu)
    appbuilder.add_view(WorkOrderImportView, "Import work orders", label=_l("Import work orders"),
                        icon="fa-upload", **menu)
    for api in (ServiceEventApi, HouseholdApi, CustomerApi, WorkOrderApi):
        appbuilder.add_api(api)


def _register_policy(appbuilder: AppBuilder, _l) -> None:
    """POLICY (SOP_RULES §0.3): profiles, versions, project overrides, explain."""
    from .api.policy_api import PolicyApi
    from .views.policy_views import PolicyView

    appbuilder.add_view(PolicyView, "Policy profiles", label=_l("Policy profiles"), icon="fa-balance-scale",
                        category="Processes")
    appbuilder.add_api(PolicyApi)


def _register_visits(appbuilder: AppBuilder, _l) -> None:
    """FLOWS: visits, the 回访记录表 register; starts flows on service_event_recorded."""
    from .api.visit_api import VisitApi, VisitFormApi
    from .services.visits import connect_signals
    from .views.visit_views import VisitFormView, VisitView

    appbuilder.add_view(VisitView, "Visits", label=_l("Visits"), icon="fa-phone", category="Work")
    appbuilder.add_view(VisitFormView, "Visit forms", label=_l("Visit forms"), icon="fa-file-text-o",
                        category="Work")
    for api in (VisitApi, VisitFormApi):
        appbuilder.add_api(api)
    connect_signals()


def _register_notify(appbuilder: AppBuilder, _l) -> None:
    """NOTIFY: in-app notifications (menu badge) and the e-mail outbox; receives app.signals.notify."""
    from .api.notification_api import NotificationApi
    from .services.notifications import connect_signals
    from .views.notification_views import NotificationView, install_unread_badge

    appbuilder.add_view(NotificationView, "Notifications", label=_l("Notifications"), icon="fa-bell",
                        category="Work")
    appbuilder.add_api(NotificationApi)
    install_unread_badge()
    connect_signals()


def _register_audit(appbuilder: AppBuilder, _l) -> None:
    """AUDIT: the hash-chained trail, read-only, for auditors (issue 5)."""
    from .views.audit_views import AuditEntryView, AuditExportView, DestructionRegisterView, FileLoanView

    appbuilder.add_view(AuditEntryView, "Audit trail", label=_l("Audit trail"), icon="fa-shield", category="Audit")
    appbuilder.add_view(DestructionRegisterView, "Destruction register", label=_l("Destruction register"),
                        icon="fa-trash", category="Audit")
    appbuilder.add_view(FileLoanView, "File loans", label=_l("File loans"), icon="fa-book", category="Audit")
    appbuilder.add_view_no_menu(AuditExportView)
    from .views.retention_views import RetentionView

    appbuilder.add_view(RetentionView, "Retention", label=_l("Retention"), icon="fa-archive", category="Audit")
    from .api.retention_api import FileLoanApi, RetentionApi

    appbuilder.add_api(RetentionApi)
    appbuilder.add_api(FileLoanApi)


def _register_stats(appbuilder: AppBuilder, _l) -> None:
    """STATS (issue 6): KPI dashboard, drill-down and exports, CAPA, periodic reports, themes, surveys."""
    from .api.stats_api import StatsApi
    from .views.stats_views import CapaView, ReportView, StatsView

    menu = {"category": "Statistics", "category_label": _l("Statistics"), "category_icon": "fa-bar-chart"}
    appbuilder.add_view(StatsView, "Dashboard", label=_l("Dashboard"), icon="fa-dashboard", **menu)
    appbuilder.add_view(CapaView, "CAPA", label=_l("CAPA"), icon="fa-check-square-o", **menu)
    appbuilder.add_view(ReportView, "Periodic reports", label=_l("Periodic reports"), icon="fa-calendar", **menu)
    appbuilder.add_api(StatsApi)


def _template_helpers(app: Flask) -> None:
    zone = ZoneInfo(app.config["TIMEZONE"])

    @app.template_filter("localtime")
    def localtime(value):
        if value is None:
            return ""
        if value.tzinfo is None:
            value = value.replace(tzinfo=timezone.utc)
        return value.astimezone(zone).strftime("%Y-%m-%d %H:%M")

    @app.context_processor
    def now_context():
        return {"now_iso": clock.now().replace(tzinfo=None).isoformat(sep=" ")}
