"""Printing the paper forms: 回访记录表 (blank for sign-out, filled after the visit) and the
回访记录签收表 of a month. The PDFs come from app/services/printing.py; every print is audited."""
from __future__ import annotations

from flask import redirect, request, url_for
from flask_appbuilder import BaseView, expose
from flask_appbuilder.security.decorators import has_access
from flask_babel import gettext as _
from sqlalchemy import select

from workflows import clock

from ..api.common import pdf_response
from ..extensions import db
from ..models.intake import Project
from ..services.engine import current_actor
from ..services.flows import printing
from .common import attempt


class PrintView(BaseView):
    route_base = "/print"
    class_permission_name = "VisitForm"
    method_permission_name = {"index": "print", "visit_record": "print", "signout_sheet": "print"}
    default_view = "index"

    @expose("/")
    @has_access
    def index(self):
        projects = db.session.scalars(select(Project).order_by(Project.key)).all()
        return self.render_template("print_index.html", projects=projects, month=clock.now().strftime("%Y-%m"),
                                    title=_("Print forms"))

    @expose("/visit/<int:visit_id>.pdf")
    @has_access
    def visit_record(self, visit_id):
        blank = request.args.get("blank") in ("1", "true", "yes")
        return self._pdf(lambda user: printing.visit_record(visit_id, blank=blank, username=user))

    @expose("/signout.pdf")
    @has_access
    def signout_sheet(self):
        return self._pdf(lambda user: printing.signout_sheet(request.args.get("project", ""),
                                                             request.args.get("period", ""), username=user))

    def _pdf(self, make):
        document = attempt(lambda: make(current_actor().username))
        return pdf_response(document) if document else redirect(request.referrer or url_for("PrintView.index"))
