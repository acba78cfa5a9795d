"""The "Notifications" page and the unread badge in the navigation bar.

Thin: reading and marking live in app.services.notifications; everyone sees only their own rows.
"""
from __future__ import annotations

from flask import abort, current_app, flash, redirect, request, url_for
from flask_appbuilder import BaseView, expose
from flask_appbuilder.security.decorators import has_access
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import func, select

from ..extensions import db
from ..security import RESOURCES
from ..services.engine import current_actor
from ..services.notifications import mark_all_read, mark_read, my_notifications_query, unread_count

PAGE_SIZE = 50


class NotificationView(BaseView):
    route_base = "/notifications"
    class_permission_name = "Notification"
    method_permission_name = {"index": "read", "read": "read", "read_all": "read"}
    base_permissions = [f"can_{action}" for action in RESOURCES["Notification"]]
    default_view = "index"

    @expose("/")
    @has_access
    def index(self):
        username = current_actor().username
        page = request.args.get("page", "0")
        page = int(page) if page.isdigit() else 0
        query = my_notifications_query(username)
        total = db.session.scalar(select(func.count()).select_from(query.order_by(None).subquery()))
        rows = db.session.scalars(query.limit(PAGE_SIZE).offset(page * PAGE_SIZE)).all()
        return self.render_template("notifications.html", rows=rows, page=page, total=total,
                                    pages=max((total + PAGE_SIZE - 1) // PAGE_SIZE, 1),
                                    unread=unread_count(username), title=_("Notifications"))

    @expose("/read/<int:notification_id>", methods=["POST"])
    @has_access
    def read(self, notification_id):
        row = mark_read(current_actor().username, notification_id)
        if row is None:
            abort(404)
        # "Open" marks read and follows the link; only links inside this site are followed.
        if request.form.get("follow") and row.link and row.link.startswith("/") and not row.link.startswith("//"):
            return redirect(row.link)
        return redirect(url_for("NotificationView.index"))

    @expose("/read-all", methods=["POST"])
    @has_access
    def read_all(self):
        marked = mark_all_read(current_actor().username)
        flash(_("%(n)s notification(s) marked read", n=marked), "info")
        return redirect(url_for("NotificationView.index"))


def install_unread_badge() -> None:
    """``notification_unread`` for the navbar badge: one indexed count per page, signed-in users only."""
    app = current_app._get_current_object()  # called from create_app, inside its app context

    @app.context_processor
    def notification_unread():
        try:
            if current_user and current_user.is_authenticated:
                return {"notification_unread": unread_count(current_user.username)}
        except Exception:  # a page must render even if the count cannot be had (e.g. DB hiccup)
            db.session.rollback()
        return {"notification_unread": None}
