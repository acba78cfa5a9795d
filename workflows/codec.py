"""Serializing a running workflow without its diagram.

SpiffWorkflow's serializer writes the whole process spec into every document. The spec
belongs to the (immutable) version, so Huifang stores only the state: the task tree, data
and events. Restoring takes the version's spec objects, parsed once per process.
"""
from __future__ import annotations

import json
from decimal import Decimal
from uuid import UUID

from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.bpmn.serializer import BpmnWorkflowSerializer
from SpiffWorkflow.bpmn.serializer.default.workflow import BpmnWorkflowConverter, WorkflowConverter
from SpiffWorkflow.bpmn.serializer.helpers.encoder import create_encoder
from SpiffWorkflow.bpmn.serializer.workflow import VERSION as FORMAT_VERSION
from SpiffWorkflow.spiff.serializer.config import SPIFF_CONFIG
from SpiffWorkflow.task import Task
from SpiffWorkflow.util.task import TaskState


FINISHED = TaskState.FINISHED_MASK


class WorkflowStateConverter(BpmnWorkflowConverter):
    """BpmnWorkflow <-> dict, leaving out the spec and subprocess specs."""

    def to_dict(self, workflow):
        dct = WorkflowConverter.to_dict(self, workflow)
        dct["subprocesses"] = self.mapping_to_dict(workflow.subprocesses)
        dct["bpmn_events"] = self.registry.convert(workflow.bpmn_events)
        return dct

    def restore(self, dct, spec, subprocess_specs):
        workflow = BpmnWorkflow(spec, subprocess_specs, deserializing=True)
        workflow.tasks = self.mapping_from_dict(dct["tasks"], UUID, workflow=workflow)
        workflow.task_tree = workflow.tasks.get(UUID(dct["root"]))
        self.set_default_attributes(workflow, dct)
        self.subprocesses_from_dict(dct["subprocesses"], workflow)
        workflow.bpmn_events = self.registry.restore(dct.pop("bpmn_events", []))
        return workflow


class StateCodec:
    def __init__(self):
        self.registry = BpmnWorkflowSerializer.configure(SPIFF_CONFIG)
        self.registry.register(Decimal, lambda v: {"value": str(v)}, lambda v: Decimal(v["value"]))
        self.converter = WorkflowStateConverter(BpmnWorkflow, self.registry)
        typename = self.registry.typenames[Task]
        self._task_to_dict = self.registry.convert_to_dict[typename]
        self.registry.convert_to_dict[typename] = self._finished_task_to_dict
        # One encoder for every dump (json.dumps would build a new one per call).
        self._encoder = create_encoder(self.registry)(ensure_ascii=False, separators=(",", ":"))

    def dumps(self, workflow: BpmnWorkflow) -> bytes:
        self.registry._encoder_mode = True
        try:
            dct = self.converter.to_dict(workflow)
        finally:
            self.registry._encoder_mode = False
        dct["serializer_version"] = FORMAT_VERSION
        return self._encoder.encode(dct).encode("utf-8")

    def _finished_task_to_dict(self, task) -> dict:
        """A task's dict, kept on the task once it and its parent have finished: a step changes a few tasks,
        and a finished task changes again only if it is reset (a new state change) or loses its children."""
        parent = task.parent
        # The dict holds the task's data as a delta from its parent's: both must be done changing (a running
        # multi-instance or subprocess task still takes its finished children's data).
        if not task._state & FINISHED or (parent is not None and not parent._state & FINISHED):
            return self._task_to_dict(task)
        key = (task._state, task.last_state_change, task.task_spec.name, tuple(task._children),
               parent.last_state_change if parent is not None else None)
        kept = task.__dict__.get("_huifang_dict")
        if kept is None or kept[0] != key:
            kept = task._huifang_dict = (key, self._task_to_dict(task))
        return kept[1]

    def loads(self, data: bytes, spec, subprocess_specs) -> BpmnWorkflow:
        dct = json.loads(data)
        version = dct.pop("serializer_version", None)
        if version != FORMAT_VERSION:
            # Written by another SpiffWorkflow release: refuse rather than misread it.
            raise ValueError(f"workflow state format {version} is not {FORMAT_VERSION}")
        return self.converter.restore(dct, spec, subprocess_specs)
