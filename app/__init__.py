"""The Huifang web application: Flask-AppBuilder over the workflow engine."""
from __future__ import annotations

from pathlib import Path

from flask import Flask
from flask_appbuilder import AppBuilder, IndexView
from flask_babel import lazy_gettext as _l
from flask_wtf.csrf import CSRFProtect

from workflows import localtime

from .api.engine_api import EventApi, InstanceApi, ProcessModelApi, TaskApi
from .api.inbox_api import InboxApi
from .api.intake_api import CustomerApi, HouseholdApi, ServiceEventApi, WorkOrderApi
from .api.notification_api import NotificationApi
from .api.policy_api import PolicyApi
from .api.retention_api import FileLoanApi, RetentionApi
from .api.stats_api import StatsApi
from .api.visit_api import VisitApi, VisitFormApi
from .cli import huifang
from .cli_audit import audit as audit_cli
from .cli_policy import policy
from .extensions import db, migrate
from .security import security_manager_class
from .services import flows, notifications, records, reporting
from .views.audit_views import AuditEntryView, AuditExportView, DestructionRegisterView, FileLoanView
from .views.engine_views import EngineEventView, InstanceView, ProcessModelView, ProcessVersionView
from .views.inbox_views import InboxView, install_task_badge
from .views.intake_views import (
    CustomerView,
    HouseholdView,
    ProjectView,
    ServiceEventView,
    WorkOrderImportView,
    WorkOrderView,
)
from .views.modeler_views import ModelerView
from .views.notification_views import NotificationView, install_unread_badge
from .views.policy_views import PolicyView
from .views.print_views import PrintView
from .views.retention_views import RetentionView
from .views.stats_views import CapaView, ReportView, StatsView
from .views.visit_views import VisitFormView, VisitView


class HomeView(IndexView):
    index_template = "index.html"


def create_app(overrides: dict | None = None) -> Flask:
    app = Flask(__name__)
    app.config.from_object("config")
    app.config.update(overrides or {})
    localtime.configure(app.config["TIMEZONE"])

    db.init_app(app)
    # Before AppBuilder: its API blueprints exempt themselves from this; the pages' forms are checked.
    CSRFProtect(app)
    migrate.init_app(app, db, directory=str(_migrations_dir()), render_as_batch=True, compare_type=True)

    with app.app_context():
        appbuilder = AppBuilder(indexview=HomeView, update_perms=app.config["FAB_UPDATE_PERMS"],
                                security_manager_class=security_manager_class())
        appbuilder.init_app(app, db.session)
        _register(appbuilder)

    # The domains plug into the engine, the session and each other's signals (services/engine.py: FlowHooks).
    for domain in (records, flows, reporting):
        domain.init_app(app)
    notifications.connect_signals()
    _template_helpers(app)
    for command in (huifang, policy, audit_cli):
        app.cli.add_command(command)
    return app


def _migrations_dir() -> Path:
    return Path(__file__).resolve().parents[1] / "migrations"


def _register(appbuilder: AppBuilder) -> None:
    appbuilder.add_view(InboxView, "My tasks", label=_l("My tasks"), icon="fa-inbox", category="Work",
                        category_label=_l("Work"))
    appbuilder.add_link("Team workload", href="/inbox/team", label=_l("Team workload"), icon="fa-users",
                        category="Work")
    appbuilder.add_view(PrintView, "Print forms", label=_l("Print forms"), icon="fa-print", category="Work")
    install_task_badge()
    appbuilder.add_view(ProcessModelView, "Process models", label=_l("Process models"), icon="fa-sitemap",
                        category="Processes", category_label=_l("Processes"))
    appbuilder.add_view_no_menu(ProcessVersionView)

    appbuilder.add_view(ModelerView, "Modeler", label=_l("Modeler"), icon="fa-pencil-square-o", category="Processes")
    appbuilder.add_view(InstanceView, "Instances", label=_l("Instances"), icon="fa-cogs", category="Processes")
    appbuilder.add_view(EngineEventView, "Engine events", label=_l("Engine events"), icon="fa-history",
                        category="Audit", category_label=_l("Audit"))

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
    appbuilder.add_view(PolicyView, "Policy profiles", label=_l("Policy profiles"), icon="fa-balance-scale",
                        category="Processes")
    appbuilder.add_api(PolicyApi)


def _register_visits(appbuilder: AppBuilder, _l) -> None:
    """FLOWS: visits, the 回访记录表 register; starts flows on service_event_recorded."""
    appbuilder.add_view(VisitView, "Visits", label=_l("Visits"), icon="fa-phone", category="Work")
    appbuilder.add_view(VisitFormView, "Visit forms", label=_l("Visit forms"), icon="fa-file-text-o",
                        category="Work")
    for api in (VisitApi, VisitFormApi):
        appbuilder.add_api(api)


def _register_notify(appbuilder: AppBuilder, _l) -> None:
    """NOTIFY: in-app notifications (menu badge) and the e-mail outbox; receives app.signals.notify."""
    appbuilder.add_view(NotificationView, "Notifications", label=_l("Notifications"), icon="fa-bell",
                        category="Work")
    appbuilder.add_api(NotificationApi)
    install_unread_badge()


def _register_audit(appbuilder: AppBuilder, _l) -> None:
    """AUDIT: the hash-chained trail, read-only, for auditors (issue 5)."""
    appbuilder.add_view(AuditEntryView, "Audit trail", label=_l("Audit trail"), icon="fa-shield", category="Audit")
    appbuilder.add_view(DestructionRegisterView, "Destruction register", label=_l("Destruction register"),
                        icon="fa-trash", category="Audit")
    appbuilder.add_view(FileLoanView, "File loans", label=_l("File loans"), icon="fa-book", category="Audit")
    appbuilder.add_view_no_menu(AuditExportView)

    appbuilder.add_view(RetentionView, "Retention", label=_l("Retention"), icon="fa-archive", category="Audit")

    appbuilder.add_api(RetentionApi)
    appbuilder.add_api(FileLoanApi)


def _register_stats(appbuilder: AppBuilder, _l) -> None:
    """STATS (issue 6): KPI dashboard, drill-down and exports, CAPA, periodic reports, themes, surveys."""
    menu = {"category": "Statistics", "category_label": _l("Statistics"), "category_icon": "fa-bar-chart"}
    appbuilder.add_view(StatsView, "Dashboard", label=_l("Dashboard"), icon="fa-dashboard", **menu)
    appbuilder.add_view(CapaView, "CAPA", label=_l("CAPA"), icon="fa-check-square-o", **menu)
    appbuilder.add_view(ReportView, "Periodic reports", label=_l("Periodic reports"), icon="fa-calendar", **menu)
    appbuilder.add_api(StatsApi)


def _template_helpers(app: Flask) -> None:
    # Every time a person reads is local, to the minute (workflows/localtime.py).
    app.add_template_filter(localtime.shown, "localtime")
    app.add_template_filter(localtime.shown_date, "localdate")
