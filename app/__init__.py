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
        appbuilder = AppBuilder(indexview=HomeView, update_perms=app.config["FAB_UPDATE_PERMS"])
        appbuilder.init_app(app, db.session)
        _register(appbuilder)

    _template_helpers(app)
    from .cli import huifang

    app.cli.add_command(huifang)
    return app


def _migrations_dir():
    from pathlib import Path

    return Path(__file__).resolve().parents[1] / "migrations"


def _register(appbuilder: AppBuilder) -> None:
    from flask_babel import lazy_gettext as _l

    from .api.engine_api import EventApi, InstanceApi, ProcessModelApi, TaskApi
    from .views.engine_views import (EngineEventView, InboxView, InstanceView, ProcessModelView,
                                     ProcessVersionView)

    appbuilder.add_view(InboxView, "My tasks", label=_l("My tasks"), icon="fa-inbox", category="Work",
                        category_label=_l("Work"))
    appbuilder.add_view(ProcessModelView, "Process models", label=_l("Process models"), icon="fa-sitemap",
                        category="Processes", category_label=_l("Processes"))
    appbuilder.add_view_no_menu(ProcessVersionView)
    appbuilder.add_view(InstanceView, "Instances", label=_l("Instances"), icon="fa-cogs", category="Processes")
    appbuilder.add_view(EngineEventView, "Engine events", label=_l("Engine events"), icon="fa-history",
                        category="Audit", category_label=_l("Audit"))
    for api in (TaskApi, InstanceApi, ProcessModelApi, EventApi):
        appbuilder.add_api(api)


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
