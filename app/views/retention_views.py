"""The retention desk (issue 5): filing register, records on legal hold, what has expired, and the
start of a destruction; holds are placed and released here with a reason. Thin over
app/services/retention.py and retained_records.py."""
from __future__ import annotations

from datetime import datetime

from flask import redirect, request, url_for
from flask_appbuilder import BaseView, expose
from flask_appbuilder.security.decorators import has_access
from flask_babel import gettext as _
from sqlalchemy import or_, select

from ..extensions import db
from ..models.retention import RetainedRecord
from ..models.visit import Visit
from ..services.engine import current_actor
from ..services.records import retained_records, retention
from .common import attempt


class RetentionView(BaseView):
    route_base = "/retention"
    class_permission_name = "Retention"
    method_permission_name = {"index": "read", "hold": "hold", "release": "hold", "destroy": "destroy"}
    default_view = "index"

    @expose("/")
    @has_access
    def index(self):
        filings = retention.filings()
        for row in filings:
            row["filing_due_at"] = datetime.fromisoformat(row["filing_due"]) if row.get("filing_due") else None
        held_visits = db.session.scalars(select(Visit).where(Visit.legal_hold.is_(True)).order_by(Visit.id)).all()
        records = db.session.scalars(select(RetainedRecord).where(or_(
            RetainedRecord.destroyed_at.is_(None), RetainedRecord.legal_hold.is_(True)))
            .order_by(RetainedRecord.retain_until).limit(500)).all()
        return self.render_template(
            "retention.html", filings=filings, held_visits=held_visits, records=records,
            expired_visits=retention.expired_visits(), expired_records=retained_records.expired(),
            may_hold=self.appbuilder.sm.has_access("can_hold", "Retention"),
            may_destroy=self.appbuilder.sm.has_access("can_destroy", "Retention"), title=_("Retention"))

    @expose("/<kind>/<int:item_id>/hold", methods=["POST"])
    @has_access
    def hold(self, kind, item_id):
        place = retention.place_hold if kind == "visit" else retained_records.place_hold
        return self._act(lambda: place(item_id, request.form.get("reason", "")), _("Legal hold placed."))

    @expose("/<kind>/<int:item_id>/release", methods=["POST"])
    @has_access
    def release(self, kind, item_id):
        release = retention.release_hold if kind == "visit" else retained_records.release_hold
        return self._act(lambda: release(item_id, request.form.get("reason", "")), _("Legal hold released."))

    @expose("/destroy", methods=["POST"])
    @has_access
    def destroy(self):
        return self._act(lambda: retention.propose_destruction(current_actor()),
                         _("Destruction started: the archivist checks the list in the inbox."))

    def _act(self, action, message):
        attempt(action, message)
        return redirect(url_for("RetentionView.index"))
