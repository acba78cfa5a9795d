"""REST API for the signed-in user's notifications (FLOW-02 notify, reminders, escalations).

Everyone sees only their own: another user's notification answers 404, as if it did not exist.
"""
from __future__ import annotations

from flask import request
from flask_appbuilder.api import BaseApi, expose, safe
from flask_appbuilder.security.decorators import protect
from sqlalchemy import func, select

from workflows.errors import InvalidInput, NotFound, Problem

from ..extensions import db
from ..security import RESOURCES
from ..services.engine import current_actor
from ..services.notifications import mark_all_read, mark_read, my_notifications_query, to_dict, unread_count
from .common import engine_errors, page_args


class NotificationApi(BaseApi):
    resource_name = "notifications"
    class_permission_name = "Notification"
    method_permission_name = {"list_mine": "read", "read_one": "read", "read_all": "read"}
    base_permissions = [f"can_{action}" for action in RESOURCES["Notification"]]
    openapi_spec_tag = "Notifications"

    @expose("/", methods=["GET"])
    @protect(allow_browser_login=True)
    @safe
    @engine_errors
    def list_mine(self):
        """My notifications, unread first.
        ---
        get:
          summary: My notifications (unread first, newest first) and my unread count
          parameters:
          - {in: query, name: unread, schema: {type: boolean}, description: only unread ones when true}
          - {in: query, name: limit, schema: {type: integer}}
          - {in: query, name: offset, schema: {type: integer}}
          responses:
            200: {description: 'count, unread and result'}
        """
        username = current_actor().username
        flag = request.args.get("unread", "").lower()
        if flag not in {"", "0", "1", "true", "false"}:
            raise InvalidInput(Problem(f"unread must be true or false, not {flag!r}", field="unread"))
        query = my_notifications_query(username, unread_only=flag in {"1", "true"})
        limit, offset = page_args()
        count = db.session.scalar(select(func.count()).select_from(query.order_by(None).subquery()))
        rows = db.session.scalars(query.limit(limit).offset(offset)).all()
        return self.response(200, count=count, unread=unread_count(username), result=[to_dict(r) for r in rows])

    @expose("/<int:notification_id>/read", methods=["POST"])
    @protect(allow_browser_login=True)
    @safe
    @engine_errors
    def read_one(self, notification_id):
        """Mark one of my notifications read.
        ---
        post:
          summary: Mark a notification read
          parameters:
          - {in: path, name: notification_id, required: true, schema: {type: integer}}
          responses:
            200: {description: the notification and my unread count}
            404: {description: no such notification of mine}
        """
        username = current_actor().username
        row = mark_read(username, notification_id)
        if row is None:
            raise NotFound(f"notification {notification_id} does not exist")
        return self.response(200, result=to_dict(row), unread=unread_count(username))

    @expose("/read-all", methods=["POST"])
    @protect(allow_browser_login=True)
    @safe
    @engine_errors
    def read_all(self):
        """Mark all my notifications read.
        ---
        post:
          summary: Mark all my notifications read
          responses:
            200: {description: how many were marked}
        """
        username = current_actor().username
        return self.response(200, marked=mark_all_read(username), unread=unread_count(username))
