"""Admin pages for intake (SOP_RULES §5.5): projects, households, customers, service events, work orders.

Thin FAB views: the rules live in app.services.intake; phone and ID numbers are masked for roles
without ``can_unmask`` on Household, in lists, detail pages and edit forms alike.
"""
from __future__ import annotations

from flask import flash, redirect, request
from flask_appbuilder import BaseView, ModelView, expose
from flask_appbuilder.actions import action
from flask_appbuilder.models.sqla.interface import SQLAInterface
from flask_appbuilder.security.decorators import has_access
from flask_babel import gettext as _, lazy_gettext as _l
from sqlalchemy import select
from wtforms import BooleanField, SelectField
from wtforms.validators import DataRequired, Optional, ValidationError

from workflows import clock, localtime
from workflows.errors import EngineError

from ..extensions import db
from ..models.intake import CATEGORIES, SEVERITIES, SOURCES, Customer, Household, Project, ServiceEvent, WorkOrder
from ..security import RESOURCES
from ..services.engine import current_actor
from ..services.intake.events import (
    NEEDS_HOUSEHOLD,
    announce,
    can_unmask,
    complete_event,
    file_no,
    mask_id,
    mask_phone,
    open_case_of_same_matter,
    record_personal_data_view,
    route,
)
from ..services.intake.work_orders import ImportFileError, import_work_orders


def _all(resource: str) -> list[str]:
    return [f"can_{a}" for a in RESOURCES[resource]]


def _masked(mask):
    return lambda value: value if can_unmask() else mask(value)


CATEGORY_LABELS = {"complaint": _l("Complaint"), "repair": _l("Repair"), "special_service": _l("Special service"),
                   "help": _l("Help request"), "emergency_patient": _l("Emergency patient"),
                   "publication_event": _l("Publication / event"), "decoration": _l("Decoration completion"),
                   "survey_item": _l("Survey dissatisfaction item"), "other": _l("Other")}
CUSTOMER_LABELS = {"household": _l("Household"), "name": _l("Name"), "role": _l("Role"), "phone": _l("Phone"),
                   "id_number": _l("ID number"), "contact_notes": _l("Contact notes")}


class CustomerView(ModelView):
    datamodel = SQLAInterface(Customer)

    @expose("/show/<pk>", methods=["GET"])
    @has_access
    def show(self, pk):
        customer = db.session.get(Customer, pk)
        if customer is not None and can_unmask():  # issue 5: full numbers shown → who saw whose
            record_personal_data_view([customer], f"customer page {pk}")
        return super().show(pk)
    class_permission_name = "Household"
    method_permission_name = {"list": "read", "show": "read", "add": "write", "edit": "write", "delete": "write",
                              "download": "read", "action": "write", "action_post": "write", "api_read": "read",
                              "api_get": "read", "api": "read", "api_column_add": "write",
                              "api_column_edit": "write", "api_readvalues": "read", "api_create": "write",
                              "api_update": "write", "api_delete": "write"}
    base_permissions = _all("Household")
    list_title = _l("Customers")
    list_columns = ["household", "name", "role", "phone", "id_number"]
    show_columns = ["household", "name", "role", "phone", "id_number", "contact_notes"]
    add_columns = edit_columns = ["household", "name", "role", "phone", "id_number", "contact_notes"]
    search_columns = ["name", "household"]
    label_columns = CUSTOMER_LABELS
    formatters_columns = {"phone": _masked(mask_phone), "id_number": _masked(mask_id)}
    add_form_extra_fields = edit_form_extra_fields = {
        "role": SelectField(_l("Role"), choices=[("owner", _l("Owner")), ("tenant", _l("Tenant")),
                                                 ("other", _l("Other"))])}

    def prefill_form(self, form, pk):
        # The edit form must not leak what the list masks.
        if not can_unmask():
            form.phone.data = mask_phone(form.phone.data)
            form.id_number.data = mask_id(form.id_number.data)

    def process_form(self, form, is_created):
        # A masked value sent back unchanged means "keep the stored number" (before the item is touched).
        if is_created or can_unmask():
            return
        stored = db.session.get(Customer, int(request.view_args["pk"]))
        for name in ("phone", "id_number"):
            if "*" in (getattr(form, name).data or ""):
                getattr(form, name).data = getattr(stored, name)


class HouseholdView(ModelView):
    datamodel = SQLAInterface(Household)

    @expose("/show/<pk>", methods=["GET"])
    @has_access
    def show(self, pk):
        household = db.session.get(Household, pk)
        if household is not None and can_unmask():  # issue 5: full numbers shown → who saw whose
            record_personal_data_view(household.customers, f"household page {pk}")
        return super().show(pk)
    class_permission_name = "Household"
    method_permission_name = CustomerView.method_permission_name
    base_permissions = _all("Household")
    list_title = _l("Households")
    list_columns = ["file_no", "project", "building", "unit", "room", "key_customer", "former_customer"]
    show_columns = list_columns
    add_columns = edit_columns = ["project", "building", "unit", "room", "key_customer", "former_customer"]
    search_columns = ["file_no", "project", "building", "room", "key_customer"]
    label_columns = {"file_no": _l("File no."), "project": _l("Project"), "building": _l("Building"),
                     "unit": _l("Unit"), "room": _l("Room"), "key_customer": _l("Key customer"),
                     "former_customer": _l("Former customer")}
    validators_columns = {"building": [DataRequired()], "room": [DataRequired()], "project": [DataRequired()]}
    # Not-null booleans would otherwise get a "required" checkbox that cannot be left unticked.
    add_form_extra_fields = edit_form_extra_fields = {
        "key_customer": BooleanField(_l("Key customer")), "former_customer": BooleanField(_l("Former customer"))}
    related_views = [CustomerView]

    def pre_add(self, item):
        item.file_no = file_no(item.project, item.building.strip(), item.room.strip())  # RET-09

    pre_update = pre_add


class ProjectView(ModelView):
    datamodel = SQLAInterface(Project)
    class_permission_name = "Project"
    method_permission_name = {"list": "read", "show": "read", "add": "write", "edit": "write", "delete": "write",
                              "download": "read", "action": "write", "action_post": "write"}
    base_permissions = _all("Project")
    list_title = _l("Projects")
    list_columns = ["key", "name", "property_type", "property_code", "policy_profile"]
    show_columns = add_columns = edit_columns = list_columns
    label_columns = {"key": _l("Key"), "name": _l("Name"), "property_type": _l("Property type"),
                     "property_code": _l("Property code"), "policy_profile": _l("Policy profile")}
    validators_columns = {"key": [DataRequired()], "name": [DataRequired()], "property_code": [DataRequired()],
                          "policy_profile": [DataRequired()]}
    related_views = [HouseholdView]


# ---------------------------------------------------------------- service events

def _severity_rule(form, field):
    """AMB-25: a complaint has a severity; other categories have none."""
    if form.category.data == "complaint" and field.data not in SEVERITIES:
        raise ValidationError(_("A complaint needs a severity."))
    if form.category.data != "complaint" and field.data:
        field.data = None  # the select offers severities to everyone; only complaints keep one


def _category_rules(form, field):
    """Cross-field checks hang on the category: FAB marks empty optional fields Optional(), which stops
    their own validators, so a missing household or contract date is caught here."""
    if field.data in NEEDS_HOUSEHOLD and not form.household.data:
        raise ValidationError(_("This category needs a household."))
    if field.data == "special_service":  # CAT-SP-01: mid-term and end visits need the contract period
        start, end = form.contract_start.data, form.contract_end.data
        if not start or not end:
            raise ValidationError(_("A special-service contract needs its start and end."))
        if end <= start:
            raise ValidationError(_("The contract must end after it starts."))


def _aware(value):
    """Form times are typed in local time."""
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=localtime.zone())
    return localtime.utc(value)


class ServiceEventView(ModelView):
    datamodel = SQLAInterface(ServiceEvent)
    class_permission_name = "ServiceEvent"
    method_permission_name = {"list": "read", "show": "read", "add": "record", "edit": "record",
                              "download": "read", "action": "complete", "action_post": "complete",
                              "complete": "complete"}
    base_permissions = _all("ServiceEvent")
    list_title = _l("Service events")
    add_title = _l("Record a service event")
    list_columns = ["id", "project", "household", "category", "severity", "subject", "status", "routed_to",
                    "received_at", "completed_at"]
    show_columns = ["id", "project", "household", "category", "severity", "source", "subject", "content",
                    "received_at", "received_by", "status", "routed_to", "completed_at", "contract_start",
                    "contract_end", "work_order_no"]
    add_columns = ["project", "household", "category", "severity", "source", "subject", "content", "received_at",
                   "contract_start", "contract_end", "work_order_no"]
    edit_columns = ["household", "severity", "subject", "content", "contract_start", "contract_end", "work_order_no"]
    search_columns = ["project", "household", "category", "severity", "status", "subject", "received_at"]
    label_columns = {"id": "#", "project": _l("Project"), "household": _l("Household"), "category": _l("Category"),
                     "severity": _l("Severity"), "source": _l("Source"), "subject": _l("Subject"),
                     "content": _l("Content"), "received_at": _l("Received at"), "received_by": _l("Received by"),
                     "status": _l("Status"), "routed_to": _l("Routed to"), "completed_at": _l("Completed at"),
                     "contract_start": _l("Contract start"), "contract_end": _l("Contract end"),
                     "work_order_no": _l("Work order no.")}
    formatters_columns = {"category": lambda c: str(CATEGORY_LABELS.get(c, c))}
    validators_columns = {"project": [DataRequired()], "content": [DataRequired()],
}
    add_form_extra_fields = {
        "category": SelectField(_l("Category"), choices=[(c, CATEGORY_LABELS[c]) for c in CATEGORIES],
                                validators=[_category_rules]),
        "severity": SelectField(_l("Severity"), choices=[("", "—")] + [(s, s) for s in SEVERITIES],
                                validators=[_severity_rule]),
        "source": SelectField(_l("Source"), choices=list(SOURCES.items())),
    }
    edit_form_extra_fields = {
        "severity": SelectField(_l("Severity"), choices=[("", "—")] + [(s, s) for s in SEVERITIES],
                                validators=[Optional()]),
    }
    base_order = ("id", "desc")

    def pre_add(self, item):
        item.received_by = current_actor().username
        item.received_at = _aware(item.received_at) or clock.now()
        item.contract_start, item.contract_end = _aware(item.contract_start), _aware(item.contract_end)
        item.severity = item.severity or None
        item.status = "received"
        item.routed_to = route(item.category, item.severity)  # FC-06
        item.extra = item.extra or {}
        if item.household is not None and item.household.project_id != item.project.id:
            raise ValueError(_("The household belongs to another project."))
        case = open_case_of_same_matter(item)  # AMB-34: a second report joins the open case
        if case is not None:
            item.duplicate_of_id, item.status = case.id, "duplicate"

    def post_add(self, item):
        if item.duplicate_of_id is None:
            announce(item, recorded=True)

    def pre_update(self, item):
        item.severity = item.severity or None
        if item.category == "complaint" and item.severity not in SEVERITIES:
            raise ValueError(_("A complaint needs a severity."))
        if item.category != "complaint":
            item.severity = None
        item.routed_to = route(item.category, item.severity)

    @action("complete", _l("Mark completed / closed"), _l("Mark the selected events completed?"), "fa-check")
    def complete(self, items):
        items = items if isinstance(items, list) else [items]
        done = 0
        for item in items:
            try:
                complete_event(item.id)
                done += 1
            except EngineError as err:
                db.session.rollback()
                flash(str(err), "warning")
        if done:
            flash(_("%(n)d event(s) completed.", n=done), "success")
        self.update_redirect()
        return redirect(self.get_redirect())


class WorkOrderView(ModelView):
    datamodel = SQLAInterface(WorkOrder)
    class_permission_name = "WorkOrder"
    method_permission_name = {"list": "read", "show": "read", "download": "read"}
    base_permissions = _all("WorkOrder")
    list_title = _l("Work orders")
    list_columns = ["number", "project", "service_type", "household", "assigned_staff", "completed_at", "sampled"]
    show_columns = list_columns + ["service_event"]
    search_columns = ["number", "project", "service_type", "household", "sampled"]
    label_columns = {"number": _l("Work order no."), "project": _l("Project"), "service_type": _l("Service type"),
                     "household": _l("Household"), "assigned_staff": _l("Assigned staff"),
                     "completed_at": _l("Completed at"), "sampled": _l("Sampled"),
                     "service_event": _l("Service event")}
    base_order = ("id", "desc")


class WorkOrderImportView(BaseView):
    """Upload page: every bad row listed; nothing imported unless "import the good rows" is ticked."""
    route_base = "/work-orders/import"
    class_permission_name = "WorkOrder"
    method_permission_name = {"index": "import"}
    base_permissions = _all("WorkOrder")
    default_view = "index"

    @expose("/", methods=["GET", "POST"])
    @has_access
    def index(self):
        projects = db.session.scalars(select(Project).order_by(Project.name)).all()
        result, error = None, None
        if request.method == "POST":
            upload = request.files.get("file")
            project = db.session.scalar(select(Project).where(Project.key == request.form.get("project", "")))
            if upload is None or not upload.filename:
                error = _("Choose a file.")
            elif project is None:
                error = _("Choose a project.")
            else:
                try:
                    result = import_work_orders(project, upload.filename, upload.read(),
                                                partial=bool(request.form.get("partial")),
                                                actor=current_actor().username).to_dict()
                except ImportFileError as err:
                    error = str(err)
        return self.render_template("intake_import.html", projects=projects, result=result, error=error,
                                    title=_("Import work orders"))
