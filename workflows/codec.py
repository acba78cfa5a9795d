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

    def loads(self, data: bytes, spec, subprocess_specs) -> BpmnWorkflow:
        dct = json.loads(data)
        version = dct.pop("serializer_version", None)
        if version != FORMAT_VERSION:
            # Written by another SpiffWorkflow release: refuse rather than misread it.
            raise ValueError(f"workflow state format {version} is not {FORMAT_VERSION}")
        return self.converter.restore(dct, spec, subprocess_specs)
