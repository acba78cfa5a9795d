"""REST API over the engine: tasks, instances, process models and versions, the event trail.

Handlers translate HTTP to engine calls and engine errors to status codes; nothing else.
"""
from __future__ import annotations

import json

from flask import request
from flask_appbuilder.api import BaseApi, expose, safe
from flask_appbuilder.security.decorators import protect
from sqlalchemy import func, select

from workflows.diagram import inspect_diagram
from workflows.errors import Conflict, InvalidDiagram, InvalidInput, NotFound, Problem
from workflows.inbox import count_open_tasks, open_tasks_query
from workflows.localtime import iso
from workflows.models import EngineEvent, HumanTask, ProcessInstance, ProcessModel, ProcessVersion, Timer

from ..extensions import db
from ..services.engine import current_actor, get_engine, instance_to_dict, known_roles, task_to_dict, version_to_dict
from ..services.flows.inbox import reassign
from ..services.flows.tasks import complete_task
from ..services.modeling import modeler
from ..services.modeling.modeler import read_upload
from ..services.records import shredding
from .common import engine_errors, json_body, page_args


class TaskApi(BaseApi):
    resource_name = "tasks"
    class_permission_name = "Task"
    method_permission_name = {"list_tasks": "read", "get_task": "read", "claim": "work", "release": "work",
                              "complete": "work", "reassign": "reassign"}
    openapi_spec_tag = "Tasks"

    @expose("/", methods=["GET"])
    @protect(allow_browser_login=True)
    @safe
    @engine_errors
    def list_tasks(self):
        """Open tasks for the current user.
        ---
        get:
          summary: List open tasks assigned to me (scope=mine), unclaimed for my roles (scope=roles), or both
          parameters:
          - {in: query, name: scope, schema: {type: string, enum: [mine, roles, all]}}
          - {in: query, name: process, schema: {type: string}}
          - {in: query, name: limit, schema: {type: integer}}
          - {in: query, name: offset, schema: {type: integer}}
          responses:
            200: {description: tasks}
        """
        scope = request.args.get("scope", "all")
        if scope not in {"mine", "roles", "all"}:
            raise InvalidInput(Problem("scope must be mine, roles or all", field="scope"))
        limit, offset = page_args()
        actor, process = current_actor(), request.args.get("process") or None
        count = count_open_tasks(db.session, actor, scope, process)
        tasks = db.session.scalars(open_tasks_query(actor, scope, limit, offset, process)).all()
        return self.response(200, count=count, result=[task_to_dict(t) for t in tasks])

    @expose("/<task_id>", methods=["GET"])
    @protect(allow_browser_login=True)
    @safe
    @engine_errors
    def get_task(self, task_id):
        """One open task with its form.
        ---
        get:
          summary: An open task with its form schema and instructions
          parameters:
          - {in: path, name: task_id, required: true, schema: {type: string}}
          responses:
            200: {description: the task}
            404: {description: no such open task}
        """
        engine = get_engine()
        task = engine.task(task_id)
        return self.response(200, result={**task_to_dict(task), "form": engine.task_form(task_id)})

    @expose("/<task_id>/claim", methods=["POST"])
    @protect(allow_browser_login=True)
    @safe
    @engine_errors
    def claim(self, task_id):
        """Claim a task.
        ---
        post:
          summary: Claim an unclaimed task of one of my roles
          parameters:
          - {in: path, name: task_id, required: true, schema: {type: string}}
          responses:
            200: {description: claimed}
            409: {description: someone else claimed it first}
        """
        engine, actor = get_engine(), current_actor()
        assignee = engine.task(task_id).assignee
        if assignee and assignee != actor.username:
            raise Conflict(f"task {task_id} is already claimed by {assignee}")
        task = engine.claim(task_id, actor)
        return self.response(200, result=task_to_dict(task))

    @expose("/<task_id>/release", methods=["POST"])
    @protect(allow_browser_login=True)
    @safe
    @engine_errors
    def release(self, task_id):
        """Release a claimed task.
        ---
        post:
          summary: Give a task I claimed back to my role
          parameters:
          - {in: path, name: task_id, required: true, schema: {type: string}}
          responses:
            200: {description: released}
        """
        task = get_engine().release(task_id, current_actor())
        return self.response(200, result=task_to_dict(task))

    @expose("/<task_id>/complete", methods=["POST"])
    @protect(allow_browser_login=True)
    @safe
    @engine_errors
    def complete(self, task_id):
        """Complete a task with its form data.
        ---
        post:
          summary: 'Complete a task; the body is {"data": {...}}, validated against the form of the task'
          parameters:
          - {in: path, name: task_id, required: true, schema: {type: string}}
          requestBody:
            content:
              application/json:
                schema: {type: object, properties: {data: {type: object}}}
          responses:
            200: {description: completed; the instance after the step}
            409: {description: the task was completed or changed by someone else}
            422: {description: form data invalid; problems name the fields}
        """
        body = json_body()
        data = body.get("data", {})
        if not isinstance(data, dict):
            raise InvalidInput(Problem("data must be an object", field="data"))

        instance = complete_task(task_id, current_actor(), data)
        return self.response(200, result=instance_to_dict(instance))

    @expose("/<task_id>/reassign", methods=["POST"])
    @protect(allow_browser_login=True)
    @safe
    @engine_errors
    def reassign(self, task_id):
        """Reassign a task (supervisors).
        ---
        post:
          summary: Hand a task to another user, with a reason
          parameters:
          - {in: path, name: task_id, required: true, schema: {type: string}}
          requestBody:
            content:
              application/json:
                schema: {type: object, properties: {to: {type: string}, reason: {type: string}}}
          responses:
            200: {description: reassigned}
        """
        body = json_body()
        task = reassign(task_id, current_actor(), body.get("to") or "", body.get("reason", ""))
        return self.response(200, result=task_to_dict(task))


class InstanceApi(BaseApi):
    resource_name = "instances"
    class_permission_name = "ProcessInstance"
    method_permission_name = {"list_instances": "read", "get_instance": "read", "start": "start",
                              "cancel": "cancel"}
    openapi_spec_tag = "Instances"

    @expose("/", methods=["GET"])
    @protect(allow_browser_login=True)
    @safe
    @engine_errors
    def list_instances(self):
        """Process instances.
        ---
        get:
          summary: List instances, newest first
          parameters:
          - {in: query, name: status, schema: {type: string, enum: [running, completed, cancelled]}}
          - {in: query, name: process, schema: {type: string}}
          - {in: query, name: business_key, schema: {type: string}}
          responses:
            200: {description: instances}
        """
        limit, offset = page_args()
        query = select(ProcessInstance)
        if request.args.get("status"):
            query = query.where(ProcessInstance.status == request.args["status"])
        if request.args.get("business_key"):
            query = query.where(ProcessInstance.business_key == request.args["business_key"])
        if request.args.get("process"):
            query = query.join(ProcessVersion).join(ProcessModel).where(ProcessModel.key == request.args["process"])
        count = db.session.scalar(select(func.count()).select_from(query.subquery()))
        rows = db.session.scalars(query.order_by(ProcessInstance.id.desc()).limit(limit).offset(offset)).all()
        return self.response(200, count=count, result=[instance_to_dict(i) for i in rows])

    @expose("/<int:instance_id>", methods=["GET"])
    @protect(allow_browser_login=True)
    @safe
    @engine_errors
    def get_instance(self, instance_id):
        """One instance with its open tasks.
        ---
        get:
          summary: An instance, its open tasks and waiting timers
          parameters:
          - {in: path, name: instance_id, required: true, schema: {type: integer}}
          responses:
            200: {description: the instance}
        """
        instance = db.session.get(ProcessInstance, instance_id)
        if instance is None:
            raise NotFound(f"process instance {instance_id} does not exist")
        tasks = db.session.scalars(select(HumanTask).where(HumanTask.instance_id == instance_id)).all()
        timers = db.session.scalars(select(Timer).where(Timer.instance_id == instance_id)).all()
        return self.response(200, result={
            **instance_to_dict(instance), "tasks": [task_to_dict(t) for t in tasks],
            "timers": [{"id": t.id, "bpmn_id": t.bpmn_id, "name": t.name, "fire_at": iso(t.fire_at)} for t in timers],
        })

    @expose("/", methods=["POST"])
    @protect(allow_browser_login=True)
    @safe
    @engine_errors
    def start(self):
        """Start an instance.
        ---
        post:
          summary: Start the newest version of a process model (or version_id) with data
          requestBody:
            content:
              application/json:
                schema:
                  type: object
                  properties: {process: {type: string}, version_id: {type: integer}, business_key: {type: string},
                               data: {type: object}}
          responses:
            201: {description: started}
            404: {description: no such process}
        """
        body = json_body()
        data = body.get("data", {})
        if not isinstance(data, dict):
            raise InvalidInput(Problem("data must be an object", field="data"))
        if not body.get("process") and not body.get("version_id"):
            raise InvalidInput(Problem("name the process (or version_id) to start", field="process"))
        if body.get("process") is not None and not isinstance(body["process"], str):
            raise InvalidInput(Problem("process must be a process model key (a string)", field="process"))
        version_id = body.get("version_id")
        if version_id is not None and (isinstance(version_id, bool) or not isinstance(version_id, int)):
            raise InvalidInput(Problem("version_id must be a whole number", field="version_id"))
        instance = get_engine().start(body.get("process"), current_actor(), data,
                                      business_key=body.get("business_key"), version_id=body.get("version_id"))
        return self.response(201, result=instance_to_dict(instance))

    @expose("/<int:instance_id>/cancel", methods=["POST"])
    @protect(allow_browser_login=True)
    @safe
    @engine_errors
    def cancel(self, instance_id):
        """Cancel an instance.
        ---
        post:
          summary: Cancel a running instance; a reason is required
          parameters:
          - {in: path, name: instance_id, required: true, schema: {type: integer}}
          requestBody:
            content:
              application/json:
                schema: {type: object, properties: {reason: {type: string}}}
          responses:
            200: {description: cancelled}
        """
        instance = get_engine().cancel(instance_id, current_actor(), json_body().get("reason", ""))
        return self.response(200, result=instance_to_dict(instance))


class ProcessModelApi(BaseApi):
    resource_name = "process-models"
    class_permission_name = "ProcessModel"
    method_permission_name = {"list_models": "read", "list_versions": "read", "get_version": "read",
                              "validate": "deploy", "deploy": "deploy", "diff": "read", "migration": "migrate",
                              "migrate": "migrate"}
    openapi_spec_tag = "Process models"

    @expose("/", methods=["GET"])
    @protect(allow_browser_login=True)
    @safe
    def list_models(self):
        """Process models.
        ---
        get:
          summary: Process models with their newest version and running-instance counts
          responses:
            200: {description: models}
        """
        running = dict(db.session.execute(
            select(ProcessVersion.model_id, func.count(ProcessInstance.id)).join(ProcessInstance)
            .where(ProcessInstance.status == "running").group_by(ProcessVersion.model_id)).all())
        result = []
        for model in db.session.scalars(select(ProcessModel).order_by(ProcessModel.key)):
            latest = model.versions[-1] if model.versions else None
            result.append({"key": model.key, "name": model.name, "latest_version": latest.number if latest else None,
                           "versions": len(model.versions), "running_instances": running.get(model.id, 0)})
        return self.response(200, result=result)

    @expose("/<key>/versions", methods=["GET"])
    @protect(allow_browser_login=True)
    @safe
    @engine_errors
    def list_versions(self, key):
        """Versions of a model.
        ---
        get:
          summary: Versions of a process model with who/when/why and running-instance counts
          parameters:
          - {in: path, name: key, required: true, schema: {type: string}}
          responses:
            200: {description: versions}
        """
        model = db.session.scalar(select(ProcessModel).where(ProcessModel.key == key))
        if model is None:
            raise NotFound(f"process model '{key}' does not exist")
        counts = dict(db.session.execute(
            select(ProcessInstance.version_id, func.count()).where(ProcessInstance.status == "running")
            .group_by(ProcessInstance.version_id)).all())
        return self.response(200, result=[{**version_to_dict(v), "running_instances": counts.get(v.id, 0)}
                                          for v in model.versions])

    @expose("/versions/<int:version_id>", methods=["GET"])
    @protect(allow_browser_login=True)
    @safe
    @engine_errors
    def get_version(self, version_id):
        """One version with its BPMN and forms.
        ---
        get:
          summary: A version's diagram XML and form schemas
          parameters:
          - {in: path, name: version_id, required: true, schema: {type: integer}}
          responses:
            200: {description: the version}
        """
        version = db.session.get(ProcessVersion, version_id)
        if version is None:
            raise NotFound(f"process version {version_id} does not exist")
        return self.response(200, result=version_to_dict(version, with_xml=True))

    def _diagram_from_request(self) -> tuple[bytes, dict, dict]:
        """Accept JSON {bpmn_xml, forms} or multipart (file=*.bpmn, forms=*.json files). An uploaded file is
        read in whatever encoding it came (see services.modeler.read_upload); one that is not a BPMN
        diagram at all is answered with its problems (422), never a server error."""
        if request.files:
            upload = request.files.get("file")
            if upload is None:
                raise InvalidInput(Problem("upload the diagram as the 'file' field", field="file"))
            forms = {}
            for form_file in request.files.getlist("forms"):
                try:
                    forms[form_file.filename] = json.loads(form_file.read().decode("utf-8"))
                except (ValueError, UnicodeDecodeError) as err:
                    raise InvalidInput(Problem(f"form {form_file.filename} is not JSON: {err}", field="forms")) from None
            opened = read_upload(upload.read(), upload.filename, forms)
            if opened.bpmn_xml is None:
                raise InvalidDiagram(opened.problems)
            return opened.bpmn_xml.encode("utf-8"), forms, dict(request.form)
        body = json_body()
        xml = body.get("bpmn_xml")
        if not isinstance(xml, str) or not xml.strip():
            raise InvalidInput(Problem("bpmn_xml is required", field="bpmn_xml"))
        forms = body.get("forms") or {}
        if not isinstance(forms, dict) or not all(isinstance(v, dict) for v in forms.values()):
            raise InvalidInput(Problem("forms must map file names to JSON Schema objects", field="forms"))
        return xml.encode("utf-8"), forms, body

    @expose("/validate", methods=["POST"])
    @protect(allow_browser_login=True)
    @safe
    @engine_errors
    def validate(self):
        """Validate a diagram without deploying it.
        ---
        post:
          summary: Check a diagram (JSON {bpmn_xml, forms} or a multipart upload); returns every problem with element id and line
          responses:
            200: {description: valid}
            422: {description: problems}
        """
        xml, forms, _ = self._diagram_from_request()
        problems, diagram = inspect_diagram(xml, forms, known_roles=known_roles(),
                                            resolve_process=get_engine()._deployed_process_xml)
        if problems:
            raise InvalidDiagram(problems)
        return self.response(200, valid=True, process_id=diagram.process_id, user_tasks=sorted(diagram.user_tasks))

    @expose("/<key>/deploy", methods=["POST"])
    @protect(allow_browser_login=True)
    @safe
    @engine_errors
    def deploy(self, key):
        """Deploy a diagram as the model's next version.
        ---
        post:
          summary: Validate and deploy with a comment (why); an invalid diagram is never deployed
          parameters:
          - {in: path, name: key, required: true, schema: {type: string}}
          requestBody:
            content:
              application/json:
                schema:
                  type: object
                  properties: {bpmn_xml: {type: string}, forms: {type: object}, comment: {type: string}}
          responses:
            201: {description: deployed}
            200: {description: identical to a deployed version; nothing new}
            422: {description: problems, each with element id and line}
        """
        xml, forms, extra = self._diagram_from_request()
        version, created = modeler.deploy(key, current_actor(), xml, forms, extra.get("comment"))
        return self.response(201 if created else 200, created=created, result=version_to_dict(version))

    @expose("/<key>/diff", methods=["GET"])
    @protect(allow_browser_login=True)
    @safe
    @engine_errors
    def diff(self, key):
        """Differences between two versions.
        ---
        get:
          summary: Added, removed and changed tasks, flows, lanes and forms from version a to version b (numbers)
          parameters:
          - {in: path, name: key, required: true, schema: {type: string}}
          - {in: query, name: a, required: true, schema: {type: integer}}
          - {in: query, name: b, required: true, schema: {type: integer}}
          responses:
            200: {description: the differences}
            404: {description: no such version}
        """
        numbers = {}
        for name in ("a", "b"):
            try:
                numbers[name] = int(request.args.get(name, ""))
            except ValueError:
                raise InvalidInput(Problem(f"{name} must be a version number", field=name)) from None
        a, b = modeler.version_by_number(key, numbers["a"]), modeler.version_by_number(key, numbers["b"])
        return self.response(200, result=modeler.diff(key, a.id, b.id))

    @expose("/<key>/migration", methods=["GET"])
    @protect(allow_browser_login=True)
    @safe
    @engine_errors
    def migration(self, key):
        """What migrating running instances to the newest version would do.
        ---
        get:
          summary: Preview, instance by instance (allowed, or refused with the reasons); nothing changes
          parameters:
          - {in: path, name: key, required: true, schema: {type: string}}
          - {in: query, name: from, schema: {type: integer}, description: only instances of this version number}
          responses:
            200: {description: the preview}
        """
        number = request.args.get("from")
        version_id = None
        if number:
            try:
                version_id = modeler.version_by_number(key, int(number)).id
            except ValueError:
                raise InvalidInput(Problem("from must be a version number", field="from")) from None
        return self.response(200, result=modeler.migration_preview(key, version_id))

    @expose("/<key>/migrate", methods=["POST"])
    @protect(allow_browser_login=True)
    @safe
    @engine_errors
    def migrate(self, key):
        """Move running instances to the newest version.
        ---
        post:
          summary: 'Migrate {"instance_ids": [...]} (or {"from": version number}); refused instances stay, with reasons'
          parameters:
          - {in: path, name: key, required: true, schema: {type: string}}
          requestBody:
            content:
              application/json:
                schema:
                  type: object
                  properties: {instance_ids: {type: array, items: {type: integer}}, from: {type: integer}}
          responses:
            200: {description: migrated and refused instances}
        """
        body = json_body()
        ids = body.get("instance_ids")
        if ids is None and body.get("from") is not None:
            if isinstance(body["from"], bool) or not isinstance(body["from"], int):
                raise InvalidInput(Problem("from must be a version number", field="from"))
            ids = [p["instance_id"] for p in modeler.migration_preview(
                key, modeler.version_by_number(key, body["from"]).id)["instances"]]
            if not ids:
                return self.response(200, result={"process": key, "migrated": [], "refused": []})
        return self.response(200, result=modeler.migrate(key, current_actor(), ids))


class EventApi(BaseApi):
    resource_name = "events"
    class_permission_name = "EngineEvent"
    method_permission_name = {"list_events": "read"}
    openapi_spec_tag = "Audit"

    @expose("/", methods=["GET"])
    @protect(allow_browser_login=True)
    @safe
    @engine_errors
    def list_events(self):
        """The engine's event trail (read-only).
        ---
        get:
          summary: Engine events, oldest first, filtered by instance, kind or actor
          parameters:
          - {in: query, name: instance_id, schema: {type: integer}}
          - {in: query, name: kind, schema: {type: string}}
          - {in: query, name: actor, schema: {type: string}}
          responses:
            200: {description: events}
        """
        limit, offset = page_args(100)
        query = select(EngineEvent)
        if request.args.get("instance_id"):
            try:
                instance_id = int(request.args["instance_id"])
            except ValueError:
                raise InvalidInput(Problem("instance_id must be a whole number", field="instance_id")) from None
            query = query.where(EngineEvent.instance_id == instance_id)
        for name in ("kind", "actor"):
            if request.args.get(name):
                query = query.where(getattr(EngineEvent, name) == request.args[name])
        rows = db.session.scalars(query.order_by(EngineEvent.id).limit(limit).offset(offset)).all()
        # sealed form data (crypto-shredding, RET-14): decrypted while the visit's key exists, else the marker
        return self.response(200, result=[{
            "id": e.id, "at": iso(e.at), "actor": e.actor, "kind": e.kind, "instance_id": e.instance_id,
            "task_id": e.task_id, "version_id": e.version_id, "detail": detail,
            "destroyed": _destroyed(destroyed)} for e, detail, destroyed in shredding.opened(
                rows, lambda e: e.detail, db.session.connection())])


def _destroyed(destroyed) -> dict | None:
    """Where an event's sealed data was shredded with its record: the subject, when, and in which batch."""
    if destroyed is None:
        return None
    return {"subject": destroyed.subject, "at": iso(destroyed.at), "batch": destroyed.batch}
