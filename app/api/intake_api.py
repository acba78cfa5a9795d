"""REST API for intake (SOP_RULES §5.5): service events, households, customers, work-order import.

Phone and ID numbers are masked unless the caller holds ``can_unmask`` on Household.
"""
from __future__ import annotations

from flask import request
from flask_appbuilder.api import BaseApi, expose, safe
from flask_appbuilder.security.decorators import protect
from sqlalchemy import func, select

from workflows.errors import InvalidInput, NotFound, Problem
from workflows.localtime import iso

from ..extensions import db
from ..models.intake import Customer, Household, Project, ServiceEvent, WorkOrder
from ..security import RESOURCES
from ..services.engine import current_actor
from ..services.intake.events import (
    can_unmask,
    complete_event,
    create_customer,
    create_household,
    customer_to_dict,
    event_to_dict,
    find_project,
    household_to_dict,
    record_event,
    record_personal_data_view,
)
from ..services.intake.work_orders import ImportFileError, import_work_orders
from .common import engine_errors, json_body, page_args


def _all(resource: str) -> list[str]:
    """Every view and API on a resource declares all its permissions, so FAB never prunes another's."""
    return [f"can_{action}" for action in RESOURCES[resource]]


def _page(query, to_dict):
    limit, offset = page_args()
    count = db.session.scalar(select(func.count()).select_from(query.order_by(None).subquery()))
    rows = db.session.scalars(query.limit(limit).offset(offset)).all()
    return {"count": count, "result": [to_dict(r) for r in rows]}


class ServiceEventApi(BaseApi):
    resource_name = "service-events"
    class_permission_name = "ServiceEvent"
    method_permission_name = {"list_events": "read", "get_event": "read", "create": "record", "complete": "complete"}
    base_permissions = _all("ServiceEvent")
    openapi_spec_tag = "Service events"

    @expose("/", methods=["GET"])
    @protect(allow_browser_login=True)
    @safe
    @engine_errors
    def list_events(self):
        """Service events, newest first.
        ---
        get:
          summary: List service events (filter by project, category, status, household_id)
          parameters:
          - {in: query, name: project, schema: {type: string}}
          - {in: query, name: category, schema: {type: string}}
          - {in: query, name: status, schema: {type: string}}
          - {in: query, name: household_id, schema: {type: integer}}
          responses:
            200: {description: events}
        """
        query = select(ServiceEvent).order_by(ServiceEvent.id.desc())
        if request.args.get("project"):
            query = query.join(Project).where(Project.key == request.args["project"])
        for name in ("category", "status"):
            if request.args.get(name):
                query = query.where(getattr(ServiceEvent, name) == request.args[name])
        if request.args.get("household_id", "").isdigit():
            query = query.where(ServiceEvent.household_id == int(request.args["household_id"]))
        return self.response(200, **_page(query, event_to_dict))

    @expose("/<int:event_id>", methods=["GET"])
    @protect(allow_browser_login=True)
    @safe
    @engine_errors
    def get_event(self, event_id):
        """One service event.
        ---
        get:
          summary: A service event
          parameters:
          - {in: path, name: event_id, required: true, schema: {type: integer}}
          responses:
            200: {description: the event}
            404: {description: no such event}
        """
        event = db.session.get(ServiceEvent, event_id)
        if event is None:
            raise NotFound(f"no service event {event_id}")
        return self.response(200, result=event_to_dict(event))

    @expose("/", methods=["POST"])
    @protect(allow_browser_login=True)
    @safe
    @engine_errors
    def create(self):
        """Record a service event (complaint, repair, special service …).
        ---
        post:
          summary: 'Record a service event; FC-06 routes it, MAJOR complaints notify supervisor and manager'
          requestBody:
            content:
              application/json:
                schema:
                  type: object
                  properties:
                    project: {type: string}
                    household_id: {type: integer}
                    building: {type: string}
                    room: {type: string}
                    category: {type: string}
                    severity: {type: string, enum: [MAJOR, IMPORTANT, MINOR]}
                    source: {type: string, enum: [a, b, c, d, e, f, g]}
                    subject: {type: string}
                    content: {type: string}
                    received_at: {type: string, format: date-time}
                    contract_start: {type: string, format: date-time}
                    contract_end: {type: string, format: date-time}
                    work_order_no: {type: string}
                    extra: {type: object}
          responses:
            201: {description: recorded}
            422: {description: invalid; problems name the fields}
        """
        event = record_event(json_body(), current_actor().username)
        return self.response(201, result=event_to_dict(event))

    @expose("/<int:event_id>/complete", methods=["POST"])
    @protect(allow_browser_login=True)
    @safe
    @engine_errors
    def complete(self, event_id):
        """Mark a repair completed / a complaint closed.
        ---
        post:
          summary: 'Complete an event (complaints become closed); the body may give {"completed_at": iso}'
          parameters:
          - {in: path, name: event_id, required: true, schema: {type: integer}}
          responses:
            200: {description: completed}
            409: {description: already completed or closed}
        """
        body = request.get_json(silent=True) or {}
        if not isinstance(body, dict):
            raise InvalidInput(Problem("the request body must be a JSON object"))
        event = complete_event(event_id, body.get("completed_at"))
        return self.response(200, result=event_to_dict(event))


class HouseholdApi(BaseApi):
    resource_name = "households"
    class_permission_name = "Household"
    method_permission_name = {"list_households": "read", "get_household": "read", "create": "write"}
    base_permissions = _all("Household")
    openapi_spec_tag = "Households"

    @expose("/", methods=["GET"])
    @protect(allow_browser_login=True)
    @safe
    @engine_errors
    def list_households(self):
        """Households with their customers (phone and ID masked unless you may unmask).
        ---
        get:
          summary: List households (filter by project, building)
          parameters:
          - {in: query, name: project, schema: {type: string}}
          - {in: query, name: building, schema: {type: string}}
          responses:
            200: {description: households}
        """
        query = select(Household).order_by(Household.id)
        if request.args.get("project"):
            query = query.join(Project).where(Project.key == request.args["project"])
        if request.args.get("building"):
            query = query.where(Household.building == request.args["building"])
        unmask = can_unmask()
        page = _page(query, lambda h: household_to_dict(h, unmask))
        if unmask:
            record_personal_data_view(db.session.scalars(select(Customer).where(
                Customer.household_id.in_([h["id"] for h in page["result"]]))).all(), "GET /api/v1/households/")
        return self.response(200, **page)

    @expose("/<int:household_id>", methods=["GET"])
    @protect(allow_browser_login=True)
    @safe
    @engine_errors
    def get_household(self, household_id):
        """One household.
        ---
        get:
          summary: A household with its customers
          parameters:
          - {in: path, name: household_id, required: true, schema: {type: integer}}
          responses:
            200: {description: the household}
        """
        household = db.session.get(Household, household_id)
        if household is None:
            raise NotFound(f"no household {household_id}")
        unmask = can_unmask()
        result = household_to_dict(household, unmask)
        if unmask:
            record_personal_data_view(household.customers, f"GET /api/v1/households/{household_id}")
        return self.response(200, result=result)

    @expose("/", methods=["POST"])
    @protect(allow_browser_login=True)
    @safe
    @engine_errors
    def create(self):
        """Create a household; its file number follows RET-09.
        ---
        post:
          summary: 'Create a household: {"project", "building", "room", "unit", "key_customer"}'
          responses:
            201: {description: created}
            422: {description: invalid}
        """
        household = create_household(json_body())
        return self.response(201, result=household_to_dict(household, can_unmask()))


class CustomerApi(BaseApi):
    resource_name = "customers"
    class_permission_name = "Household"
    method_permission_name = {"list_customers": "read", "create": "write"}
    base_permissions = _all("Household")
    openapi_spec_tag = "Households"

    @expose("/", methods=["GET"])
    @protect(allow_browser_login=True)
    @safe
    @engine_errors
    def list_customers(self):
        """Customers (phone and ID masked unless you may unmask).
        ---
        get:
          summary: List customers (filter by household_id)
          parameters:
          - {in: query, name: household_id, schema: {type: integer}}
          responses:
            200: {description: customers}
        """
        query = select(Customer).order_by(Customer.id)
        if request.args.get("household_id", "").isdigit():
            query = query.where(Customer.household_id == int(request.args["household_id"]))
        unmask = can_unmask()
        page = _page(query, lambda c: customer_to_dict(c, unmask))
        if unmask:
            record_personal_data_view(db.session.scalars(select(Customer).where(
                Customer.id.in_([c["id"] for c in page["result"]]))).all(), "GET /api/v1/customers/")
        return self.response(200, **page)

    @expose("/", methods=["POST"])
    @protect(allow_browser_login=True)
    @safe
    @engine_errors
    def create(self):
        """Add a customer to a household.
        ---
        post:
          summary: 'Add a customer: {"household_id", "name", "role", "phone", "id_number", "contact_notes"}'
          responses:
            201: {description: created}
            422: {description: invalid}
        """
        customer = create_customer(json_body())
        return self.response(201, result=customer_to_dict(customer, can_unmask()))


def work_order_to_dict(order: WorkOrder) -> dict:
    return {"id": order.id, "project": order.project.key, "number": order.number, "service_type": order.service_type,
            "household": order.household.file_no, "assigned_staff": order.assigned_staff,
            "completed_at": iso(order.completed_at), "sampled": order.sampled,
            "service_event_id": order.service_event_id}


def resolve_import_project(key) -> Project:
    """The project named, or the only one there is."""
    if key:
        project = find_project(key)
        if project is None:
            raise InvalidInput(Problem(f"no project with key {key!r}", field="project"))
        return project
    projects = db.session.scalars(select(Project).limit(2)).all()
    if len(projects) != 1:
        raise InvalidInput(Problem("project is required (its key)", field="project"))
    return projects[0]


class WorkOrderApi(BaseApi):
    resource_name = "work-orders"
    class_permission_name = "WorkOrder"
    method_permission_name = {"list_orders": "read", "import_orders": "import"}
    base_permissions = _all("WorkOrder")
    openapi_spec_tag = "Work orders"

    @expose("/", methods=["GET"])
    @protect(allow_browser_login=True)
    @safe
    @engine_errors
    def list_orders(self):
        """Work orders (派工单).
        ---
        get:
          summary: List work orders, newest first
          parameters:
          - {in: query, name: project, schema: {type: string}}
          responses:
            200: {description: work orders}
        """
        query = select(WorkOrder).order_by(WorkOrder.id.desc())
        if request.args.get("project"):
            query = query.join(Project).where(Project.key == request.args["project"])
        return self.response(200, **_page(query, work_order_to_dict))

    @expose("/import", methods=["POST"])
    @protect(allow_browser_login=True)
    @safe
    @engine_errors
    def import_orders(self):
        """Import work orders from .xlsx or .csv.
        ---
        post:
          summary: 'Import work orders (multipart "file"); all bad rows are reported; nothing is imported
            when any row is bad unless partial=true'
          parameters:
          - {in: query, name: partial, schema: {type: boolean}}
          - {in: query, name: project, schema: {type: string}}
          requestBody:
            content:
              multipart/form-data:
                schema: {type: object, properties: {file: {type: string, format: binary}}}
          responses:
            200: {description: imported; counts}
            422: {description: bad rows (row number, field, reason) or an unreadable file}
        """
        upload = request.files.get("file")
        if upload is None or not upload.filename:
            raise InvalidInput(Problem("a file is required (multipart field 'file')", field="file"))
        project = resolve_import_project(request.values.get("project"))
        partial = request.values.get("partial", "").lower() in {"1", "true", "yes", "on"}
        try:
            result = import_work_orders(project, upload.filename, upload.read(), partial=partial,
                                        actor=current_actor().username)
        except ImportFileError as err:
            raise InvalidInput(Problem(str(err), field="file")) from None
        body = result.to_dict()
        if not result.committed:
            return self.response(422, error="invalid", message=f"{body['bad']} bad row(s); nothing was imported",
                                 **body)
        return self.response(200, **body)
