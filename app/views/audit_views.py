"""Auditor pages over the trail (issue 5): search, one entry in full, CSV export of what was found."""
from __future__ import annotations

import csv
import io
from datetime import datetime

from flask import Response, abort, request
from flask_appbuilder import BaseView, ModelView, expose
from flask_appbuilder.models.sqla.interface import SQLAInterface
from flask_appbuilder.security.decorators import has_access
from flask_babel import lazy_gettext as _l
from weasyprint import HTML

from ..extensions import db
from ..models.audit import AuditEntry
from ..models.intake import FileLoan
from ..models.visit import DestructionEntry
from ..services.records.audit import readable, readable_details, record, trail_query, visit_trail

COLUMNS = ["id", "seq", "at", "actor", "action", "target_type", "target_id", "ip", "request_id", "source",
           "source_id", "details", "content_hash", "chain_hash"]


class AuditEntryView(ModelView):
    route_base = "/audit/trail"
    datamodel = SQLAInterface(AuditEntry)
    class_permission_name = "AuditEntry"
    method_permission_name = {"list": "read", "show": "read"}
    base_permissions = ["can_read"]
    base_order = ("id", "desc")
    list_columns = ["at", "actor", "action", "target_type", "target_id", "ip", "seq"]
    show_columns = COLUMNS
    search_columns = ["at", "actor", "action", "target_type", "target_id", "ip", "request_id", "source"]
    label_columns = {"at": _l("Time (UTC)"), "actor": _l("Who"), "action": _l("Action"),
                     "target_type": _l("Record type"), "target_id": _l("Record"), "ip": _l("IP address"),
                     "seq": _l("Chain position"), "details": _l("Details"), "request_id": _l("Request")}
    # sealed personal values read in clear while the record's key exists, as the RET-14 marker once shredded
    formatters_columns = {"details": readable_details}


class AuditExportView(BaseView):
    """``/audit/export.csv?target_type=…&target_id=…&actor=…&action=…&since=…&until=…``: the matching
    entries in chain order, as CSV (UTF-8 with BOM, so Excel shows the Chinese). The export is audited."""
    route_base = "/audit"
    class_permission_name = "AuditEntry"
    method_permission_name = {"export_csv": "export", "visit": "read", "visit_pdf": "export"}
    default_view = "export_csv"

    @expose("/visit/<int:visit_id>")
    @has_access
    def visit(self, visit_id):
        """The whole trail of one visit, from intake to archive, on one page."""
        visit, entries = _trail_or_404(visit_id)
        return self.render_template("audit_visit.html", visit=visit, rows=readable(entries),
                                    title=f"{visit.serial or visit.id}")

    @expose("/visit/<int:visit_id>.pdf")
    @has_access
    def visit_pdf(self, visit_id):
        """The same trail as a PDF (A4, CJK font), for the file; the export itself is audited."""
        visit, entries = _trail_or_404(visit_id)
        html = self.render_template("audit_visit_pdf.html", visit=visit, rows=readable(entries))
        pdf = HTML(string=html).write_pdf()
        record("export.pdf", target_type="visit", target_id=visit.id, details={"entries": len(entries)})
        db.session.commit()
        return Response(pdf, mimetype="application/pdf",
                        headers={"Content-Disposition": f"attachment; filename=visit-{visit.id}-trail.pdf"})

    @expose("/export.csv")
    @has_access
    def export_csv(self):
        filters = {k: request.args.get(k) or None for k in ("target_type", "target_id", "actor", "action")}
        problems, bounds = [], {}
        for key in ("since", "until"):
            try:
                bounds[key] = datetime.fromisoformat(request.args[key]) if request.args.get(key) else None
            except ValueError:
                problems.append(f"{key}: not an ISO 8601 date or time: {request.args[key]!r}")
        if problems:
            return Response("\n".join(problems), status=422, mimetype="text/plain")
        rows = db.session.scalars(trail_query(**filters, **bounds)).all()
        record("export.csv", target_type="audit_entry", details={"filters": {**filters, **bounds}, "rows": len(rows)})
        db.session.commit()
        out = io.StringIO()
        out.write("\ufeff")
        writer = csv.writer(out)
        writer.writerow(COLUMNS)
        for row, details, _destroyed in readable(rows):
            writer.writerow([details if c == "details" else getattr(row, c) for c in COLUMNS])
        return Response(out.getvalue(), mimetype="text/csv",
                        headers={"Content-Disposition": "attachment; filename=audit-trail.csv"})


def _trail_or_404(visit_id: int):
    visit, entries = visit_trail(visit_id)
    if visit is None:
        abort(404)
    return visit, entries


class DestructionRegisterView(ModelView):
    """文件/记录销毁登记表 (RET-14): read-only for everyone, kept permanently."""
    route_base = "/audit/destruction-register"
    datamodel = SQLAInterface(DestructionEntry)
    class_permission_name = "Retention"
    method_permission_name = {"list": "read", "show": "read"}
    base_permissions = ["can_read"]
    base_order = ("id", "desc")
    list_columns = ["batch", "visit_id", "serials", "category", "retain_until", "proposed_by", "approved_by",
                    "witnessed_by", "method", "destroyed_at", "trail_key_destroyed"]
    search_columns = ["batch", "visit_id", "category", "destroyed_at"]
    label_columns = {"batch": _l("Batch"), "visit_id": _l("Visit"), "serials": _l("Form no."),
                     "category": _l("Category"), "retain_until": _l("Kept until"), "proposed_by": _l("Proposed by"),
                     "approved_by": _l("Approved by"), "witnessed_by": _l("Witnessed by"), "method": _l("Method"),
                     "destroyed_at": _l("Destroyed at"), "trail_subject": _l("Trail subject"),
                     "trail_key_destroyed": _l("Trail key destroyed")}


class FileLoanView(ModelView):
    """文件借阅/复制登记表 (RET-18…21): the register; requests and decisions go through the API."""
    route_base = "/audit/file-loans"
    datamodel = SQLAInterface(FileLoan)
    class_permission_name = "FileLoan"
    method_permission_name = {"list": "read", "show": "read"}
    base_permissions = ["can_read"]
    base_order = ("id", "desc")
    list_columns = ["household", "kind", "party", "requester", "purpose", "status", "approver", "requested_at",
                    "decided_at", "returned_at"]
    search_columns = ["household", "kind", "party", "requester", "status", "approver", "requested_at"]
    label_columns = {"household": _l("Household"), "kind": _l("Kind"), "party": _l("Party"),
                     "requester": _l("Requested by"), "purpose": _l("Purpose"), "status": _l("Status"),
                     "approver": _l("Decided by"), "requested_at": _l("Requested at"), "decided_at": _l("Decided at"),
                     "returned_at": _l("Returned at")}
