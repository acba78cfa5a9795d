"""The engine as the web app uses it: one Engine per app, bound to the request session."""
from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

from flask import current_app

from workflows.actor import Actor
from workflows.engine import Engine

from ..extensions import db

BPMN_DIR = Path(__file__).resolve().parents[2] / "bpmn"


def get_engine() -> Engine:
    engine = current_app.extensions.get("huifang_engine")
    if engine is None:
        from .shredding import seal_engine_event
        from .visits import FLOW_SCRIPT_FUNCTIONS  # the flows' notify(); visits imports this module

        # A visit's submitted form data goes into wf_event sealed under the visit's trail key (RET-14).
        engine = current_app.extensions["huifang_engine"] = Engine(db.session, FLOW_SCRIPT_FUNCTIONS,
                                                                   event_sealer=seal_engine_event)
    return engine


def actor_for(user) -> Actor:
    return Actor(user.username, frozenset(role.name for role in user.roles))


def current_actor() -> Actor:
    """The logged-in user, by session cookie or JWT."""
    return actor_for(current_app.appbuilder.sm.current_user)


def known_roles() -> set[str]:
    sm = current_app.appbuilder.sm
    return {role.name for role in sm.get_all_roles()}


def iso(value: datetime | None) -> str | None:
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return value.isoformat()


def task_to_dict(task) -> dict:
    return {
        "id": task.id, "name": task.name, "bpmn_id": task.bpmn_id, "instance_id": task.instance_id,
        "lane": task.lane, "role": task.role, "assignee": task.assignee, "form_key": task.form_key,
        "due_at": iso(task.due_at), "business_key": task.business_key, "process": task.process_key,
        "version": task.version_number, "created_at": iso(task.created_at), "claimed_at": iso(task.claimed_at),
    }


def instance_to_dict(instance) -> dict:
    return {
        "id": instance.id, "process": instance.version.model.key, "version": instance.version.number,
        "version_id": instance.version_id, "business_key": instance.business_key, "status": instance.status,
        "started_by": instance.started_by, "started_at": iso(instance.started_at),
        "updated_at": iso(instance.updated_at), "ended_at": iso(instance.ended_at), "end_reason": instance.end_reason,
    }


def version_to_dict(version, with_xml: bool = False) -> dict:
    out = {
        "id": version.id, "process": version.model.key, "number": version.number, "process_id": version.process_id,
        "content_hash": version.content_hash, "comment": version.comment, "created_by": version.created_by,
        "created_at": iso(version.created_at), "lanes": version.lanes,
        "user_tasks": sorted(version.user_tasks), "forms": sorted(version.forms),
    }
    if with_xml:
        out["bpmn_xml"] = version.bpmn_xml
        out["form_schemas"] = version.forms
    return out


def load_bundle(model_key: str) -> tuple[bytes, dict]:
    """Read a shipped diagram ``bpmn/<key>.bpmn`` and the form schemas it names."""
    import json
    from workflows.diagram import FORM_PROPERTY, NS, UI_FORM_PROPERTY, parse_xml

    xml = (BPMN_DIR / f"{model_key}.bpmn").read_bytes()
    root = parse_xml(xml)
    forms = {}
    for name in (FORM_PROPERTY, UI_FORM_PROPERTY):
        for value in root.xpath(f".//spiffworkflow:property[@name='{name}']/@value", namespaces=NS):
            path = BPMN_DIR / value
            if path.exists():
                forms[value] = json.loads(path.read_text(encoding="utf-8"))
    return xml, forms
