"""Completing a task from a page or the API: the checks its process registered, the engine step, then the
bookkeeping its process registered (``FlowHooks``); a refused completion changes nothing, its draft included."""
from __future__ import annotations

from workflows.actor import Actor

from ..engine import get_engine, hooks
from .drafts import discard


def complete_task(task_id: str, actor: Actor, data: dict):
    engine = get_engine()
    task = engine.task(task_id)
    bpmn_id, instance_id, process = task.bpmn_id, task.instance_id, task.process_key
    registered = hooks()
    check = registered.checks.get((process, bpmn_id))
    if check is not None:
        check(bpmn_id, engine.workflow_data(instance_id), data)
    discard(task_id)  # in the completion's transaction: a refused completion keeps the draft
    instance = engine.complete(task_id, actor, data)
    handler = registered.handlers.get(process)
    if handler is not None:
        handler(process, bpmn_id, instance_id, actor, data)
    return instance
