"""The engine as the web app uses it: one Engine per app, bound to the request session.

The engine knows no flow. Each domain plugs into it at start-up through the app's ``FlowHooks``
(``hooks(app)``): the functions BPMN scripts may call, what must hold before a task of a process is
completed, what follows the completion of a process' task, and the sealer of engine events.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from flask import Flask, current_app

from workflows.actor import Actor
from workflows.diagram import FORM_PROPERTY, NS, UI_FORM_PROPERTY, parse_xml
from workflows.engine import Engine, EventSealer
from workflows.localtime import iso

from ..extensions import db

BPMN_DIR = Path(__file__).resolve().parents[2] / "bpmn"

# (bpmn_id, flow data, submitted data) -> None; raises InvalidInput to refuse the completion.
CompletionCheck = Callable[[str, dict, dict], None]
# (process key, bpmn_id, instance id, actor, submitted data) -> None; runs after the engine step.
CompletionHandler = Callable[[str, str, int, Actor, dict], None]


@dataclass
class FlowHooks:
    """What the domains registered for the engine of one app."""
    script_functions: dict[str, Callable] = field(default_factory=dict)
    checks: dict[tuple[str, str], CompletionCheck] = field(default_factory=dict)
    handlers: dict[str, CompletionHandler] = field(default_factory=dict)
    event_sealer: EventSealer | None = None

    def script_function(self, name: str, function: Callable) -> None:
        self.script_functions[name] = function

    def check_before_completing(self, process: str, bpmn_ids: tuple[str, ...], check: CompletionCheck) -> None:
        for bpmn_id in bpmn_ids:
            self.checks[(process, bpmn_id)] = check

    def after_completing(self, processes: tuple[str, ...], handler: CompletionHandler) -> None:
        for process in processes:
            self.handlers[process] = handler


def hooks(app: Flask | None = None) -> FlowHooks:
    app = app or current_app
    return app.extensions.setdefault("huifang_hooks", FlowHooks())


def get_engine() -> Engine:
    engine = current_app.extensions.get("huifang_engine")
    if engine is None:
        registered = hooks()
        engine = current_app.extensions["huifang_engine"] = Engine(db.session, registered.script_functions,
                                                                   event_sealer=registered.event_sealer)
    return engine


def actor_for(user) -> Actor:
    return Actor(user.username, frozenset(role.name for role in user.roles))


def current_actor() -> Actor:
    """The logged-in user, by session cookie or JWT."""
    return actor_for(current_app.appbuilder.sm.current_user)


def known_roles() -> set[str]:
    sm = current_app.appbuilder.sm
    return {role.name for role in sm.get_all_roles()}


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
    xml = (BPMN_DIR / f"{model_key}.bpmn").read_bytes()
    root = parse_xml(xml)
    forms = {}
    for name in (FORM_PROPERTY, UI_FORM_PROPERTY):
        for value in root.xpath(f".//spiffworkflow:property[@name='{name}']/@value", namespaces=NS):
            path = BPMN_DIR / value
            if path.exists():
                forms[value] = json.loads(path.read_text(encoding="utf-8"))
    return xml, forms
