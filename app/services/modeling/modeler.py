"""The modeler (issue 7): drafts, validation, deploy, versions, diff and migration of running instances.

Views and APIs call these functions and translate their errors; nothing here reads the request.
Every deploy and migration is in the audit trail: the engine's own events (``version_deployed``,
``instance_migrated``) are copied in by the sealer, and an app entry says who did it, with the comment.
"""
from __future__ import annotations

import codecs
import hashlib
import re
from dataclasses import dataclass, field

from sqlalchemy import delete, func, select

from workflows import clock, migration as migrations
from workflows.actor import Actor
from workflows.diagram import inspect_diagram, parse_xml
from workflows.errors import InvalidDiagram, InvalidInput, NotFound, Problem
from workflows.models import ProcessInstance, ProcessModel, ProcessVersion
from workflows.versions import diagram_diff

from ...extensions import db
from ...models.modeler import ProcessDraft
from ..engine import get_engine, known_roles
from ..records import audit

MAX_UPLOAD_BYTES = 5 * 1024 * 1024
_KEY = re.compile(r"^[A-Za-z][A-Za-z0-9_.-]{0,99}$")
_DECLARATION = re.compile(r"^\s*<\?xml[^>]*\?>")
_DECLARED_ENCODING = re.compile(rb"^\s*<\?xml[^>]*encoding\s*=\s*[\"']([A-Za-z0-9._-]+)[\"']")

EMPTY_DIAGRAM = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
                  xmlns:bpmndi="http://www.omg.org/spec/BPMN/20100524/DI"
                  xmlns:dc="http://www.omg.org/spec/DD/20100524/DC"
                  xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core"
                  id="defs_{key}" targetNamespace="http://huifang.example/bpmn">
  <bpmn:process id="{key}" name="{key}" isExecutable="true">
    <bpmn:startEvent id="start"/>
  </bpmn:process>
  <bpmndi:BPMNDiagram id="diagram_{key}">
    <bpmndi:BPMNPlane id="plane_{key}" bpmnElement="{key}">
      <bpmndi:BPMNShape id="start_di" bpmnElement="start"><dc:Bounds x="180" y="160" width="36" height="36"/></bpmndi:BPMNShape>
    </bpmndi:BPMNPlane>
  </bpmndi:BPMNDiagram>
</bpmn:definitions>
"""


def check_key(key: str) -> str:
    if not isinstance(key, str) or not _KEY.match(key):
        raise InvalidInput(Problem("a process model key starts with a letter and has only letters, digits, "
                                   "'_', '.', '-' (at most 100)", field="key"))
    return key


def _xml_bytes(xml) -> bytes:
    if isinstance(xml, bytes):
        return xml
    if not isinstance(xml, str) or not xml.strip():
        raise InvalidInput(Problem("bpmn_xml is required", field="bpmn_xml"))
    return xml.encode("utf-8")


def _forms(forms) -> dict:
    if forms is None:
        return {}
    if not isinstance(forms, dict):
        raise InvalidInput(Problem("forms must map file names to JSON Schema objects", field="forms"))
    return forms


# ---------------------------------------------------------------- validation

def problems_of(xml, forms=None) -> list[Problem]:
    """Every problem of a diagram (XML, XSD, Huifang's rules, SpiffWorkflow's parse), each with its element id."""
    problems, _diagram = inspect_diagram(_xml_bytes(xml), _forms(forms), known_roles=known_roles(),
                                         resolve_process=get_engine()._deployed_process_xml)
    return problems


_BPMN = "{http://www.omg.org/spec/BPMN/20100524/MODEL}"
_BPMNDI = "{http://www.omg.org/spec/BPMN/20100524/DI}"
FLOW_NODES = frozenset(f"{_BPMN}{name}" for name in (
    "startEvent", "endEvent", "intermediateCatchEvent", "intermediateThrowEvent", "boundaryEvent",
    "implicitThrowEvent", "task", "userTask", "serviceTask", "scriptTask", "sendTask", "receiveTask", "manualTask",
    "businessRuleTask", "callActivity", "subProcess", "adHocSubProcess", "transaction", "exclusiveGateway",
    "inclusiveGateway", "parallelGateway", "complexGateway", "eventBasedGateway"))


@dataclass
class LayoutGaps:
    """Flow nodes of the processes a diagram shows that have no shape (BPMN DI) to be drawn with."""
    missing: list[str]
    total: int

    @property
    def needs_layout(self) -> bool:
        return bool(self.total and self.missing)

    def to_dict(self) -> dict:
        return {"missing": self.missing, "total": self.total, "needs_layout": self.needs_layout}


def layout_gaps(xml) -> LayoutGaps:
    """Which flow nodes have no position: the processes a BPMN diagram (DI plane) shows, directly or through
    its collaboration's pools, or every process when there is no diagram at all. The modeler lays such a
    diagram out in the browser (bpmn-auto-layout); the engine itself never needs the DI."""
    root = parse_xml(_xml_bytes(xml))
    by_id = {node.get("id"): node for node in root.iter() if node.get("id")}
    shown = {shape.get("bpmnElement") for shape in root.iter(f"{_BPMNDI}BPMNShape")}
    drawn = []
    for plane in root.iter(f"{_BPMNDI}BPMNPlane"):
        element = by_id.get(plane.get("bpmnElement"))
        if element is None:
            continue
        if element.tag == f"{_BPMN}process":
            drawn.append(element)
        elif element.tag == f"{_BPMN}collaboration":
            for participant in element.iter(f"{_BPMN}participant"):
                process = by_id.get(participant.get("processRef"))
                if process is not None and process.tag == f"{_BPMN}process":
                    drawn.append(process)
    if not drawn:
        drawn = root.findall(f"{_BPMN}process")
    nodes = [node.get("id") for process in dict.fromkeys(drawn) for node in process if node.tag in FLOW_NODES]
    return LayoutGaps([node for node in nodes if node not in shown], len(nodes))


@dataclass
class Upload:
    bpmn_xml: str | None  # UTF-8 text the modeler can open, or None when the file is not a BPMN diagram
    problems: list[Problem] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    layout: LayoutGaps | None = None

    def to_dict(self) -> dict:
        return {"bpmn_xml": self.bpmn_xml, "problems": [p.to_dict() for p in self.problems], "notes": self.notes,
                "valid": self.bpmn_xml is not None and not self.problems,
                "layout": self.layout.to_dict() if self.layout else None}


def _decode(data: bytes) -> tuple[str | None, list[str], Problem | None]:
    """The file's text: by its byte-order mark, its declared encoding, UTF-8, or else GB18030 (what
    Chinese Windows tools write when they say nothing)."""
    for bom, encoding in ((codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF32_LE, "utf-32"),
                          (codecs.BOM_UTF32_BE, "utf-32"), (codecs.BOM_UTF16_LE, "utf-16"),
                          (codecs.BOM_UTF16_BE, "utf-16")):
        if data.startswith(bom):
            try:
                return data.decode(encoding), [], None
            except UnicodeDecodeError as err:
                return None, [], Problem(f"the file starts like {encoding.upper()} but is not: {err.reason} "
                                         f"at byte {err.start}")
    declared = _DECLARED_ENCODING.match(data)
    encoding = declared.group(1).decode("ascii").lower() if declared else "utf-8"
    try:
        codecs.lookup(encoding)
    except LookupError:
        encoding = "utf-8"
    try:
        return data.decode(encoding), [], None
    except UnicodeDecodeError as err:
        first = f"the file is not valid {encoding.upper()} (byte {err.start})"
    if b"\x00" not in data:
        try:
            return data.decode("gb18030"), [f"{first}; it was read as GB18030 and will be saved as UTF-8."], None
        except UnicodeDecodeError:
            pass
    return None, [], Problem(f"{first}, nor GB18030: is it a BPMN file?")


def read_upload(data: bytes, filename: str | None = None, forms=None) -> Upload:
    """Open an uploaded file for the modeler, whatever it holds: text in any common encoding, a diagram
    of another modeler (unknown extensions stay as they are), several processes or pools. What the engine
    cannot execute comes back as problems; only a file that is not a BPMN diagram at all has no XML."""
    name = filename or "the file"
    if not data:
        return Upload(None, [Problem(f"{name} is empty")])
    if len(data) > MAX_UPLOAD_BYTES:
        return Upload(None, [Problem(f"{name} has {len(data):,} bytes; the modeler opens at most "
                                     f"{MAX_UPLOAD_BYTES:,}")])
    text, notes, problem = _decode(data)
    if problem is not None:
        return Upload(None, [problem])
    text = text.lstrip("\ufeff")
    if _DECLARATION.match(text):  # the text is UTF-8 from here on; the old declaration would lie
        text = _DECLARATION.sub('<?xml version="1.0" encoding="UTF-8"?>', text, count=1)
    xml = text.encode("utf-8")
    try:
        parse_xml(xml)
    except InvalidDiagram as err:
        return Upload(None, err.problems, notes)
    except Exception as err:  # noqa: BLE001 - whatever the file, the answer is a problem, not a server error
        return Upload(None, [Problem(f"{name} cannot be read: {type(err).__name__}: {err}")], notes)
    try:
        problems = problems_of(xml, _forms(forms))
    except InvalidInput as err:
        problems = err.problems
    # a diagram without positions opens all the same: the page lays it out (and says so in the user's language)
    return Upload(text, problems, notes, layout_gaps(xml))


# ---------------------------------------------------------------- drafts

def get_draft(key: str, owner: str) -> ProcessDraft | None:
    return db.session.scalar(select(ProcessDraft).where(ProcessDraft.model_key == key, ProcessDraft.owner == owner))


def save_draft(key: str, actor: Actor, xml, forms=None, base_version_id: int | None = None) -> ProcessDraft:
    """Save (replace) the actor's draft of a model. A draft may have problems: it is not deployed."""
    check_key(key)
    text = _xml_bytes(xml).decode("utf-8")
    forms = _forms(forms)
    if base_version_id is not None:
        if isinstance(base_version_id, bool) or not isinstance(base_version_id, int) \
                or db.session.get(ProcessVersion, base_version_id) is None:
            raise InvalidInput(Problem(f"version {base_version_id!r} does not exist", field="base_version_id"))
    now = clock.now()
    draft = get_draft(key, actor.username)
    if draft is None:
        draft = ProcessDraft(model_key=key, owner=actor.username, created_at=now)
        db.session.add(draft)
    draft.bpmn_xml, draft.forms, draft.updated_at = text, forms, now
    if base_version_id is not None:
        draft.base_version_id = base_version_id
    db.session.flush()
    audit.record("process_draft_saved", actor=actor.username, target_type="modeler_draft", target_id=draft.id,
                 details={"process": key, "bytes": len(text.encode("utf-8")),
                          "sha256": hashlib.sha256(text.encode("utf-8")).hexdigest(), "forms": sorted(forms)})
    db.session.commit()
    return draft


def discard_draft(key: str, actor: Actor) -> bool:
    draft = get_draft(key, actor.username)
    if draft is None:
        return False
    audit.record("process_draft_discarded", actor=actor.username, target_type="modeler_draft", target_id=draft.id,
                 details={"process": key})
    db.session.delete(draft)
    db.session.commit()
    return True


# ---------------------------------------------------------------- versions

def get_model(key: str) -> ProcessModel:
    model = db.session.scalar(select(ProcessModel).where(ProcessModel.key == key))
    if model is None:
        raise NotFound(f"process model '{key}' does not exist")
    return model


def get_version(version_id: int, key: str | None = None) -> ProcessVersion:
    version = db.session.get(ProcessVersion, version_id)
    if version is None or (key is not None and version.model.key != key):
        raise NotFound(f"process version {version_id} does not exist" + (f" for '{key}'" if key else ""))
    return version


def version_by_number(key: str, number: int) -> ProcessVersion:
    version = db.session.scalar(select(ProcessVersion).join(ProcessModel)
                                .where(ProcessModel.key == key, ProcessVersion.number == number))
    if version is None:
        raise NotFound(f"'{key}' has no version {number}")
    return version


def instance_counts(model_id: int | None = None) -> dict[int, dict[str, int]]:
    """Instances per version and status: {version_id: {"running": n, "completed": n, "cancelled": n}}."""
    query = select(ProcessInstance.version_id, ProcessInstance.status, func.count()).group_by(
        ProcessInstance.version_id, ProcessInstance.status)
    if model_id is not None:
        query = query.join(ProcessVersion, ProcessVersion.id == ProcessInstance.version_id).where(
            ProcessVersion.model_id == model_id)
    counts: dict[int, dict[str, int]] = {}
    for version_id, status, count in db.session.execute(query):
        counts.setdefault(version_id, {"running": 0, "completed": 0, "cancelled": 0})[status] = count
    return counts


def versions(key: str) -> list[dict]:
    """Every version of a model, newest first: who deployed it, when, why, and its instances by status."""
    model = get_model(key)
    counts = instance_counts(model.id)
    rows = db.session.execute(select(ProcessVersion.id, ProcessVersion.number, ProcessVersion.created_by,
                                     ProcessVersion.created_at, ProcessVersion.comment, ProcessVersion.content_hash)
                              .where(ProcessVersion.model_id == model.id).order_by(ProcessVersion.number.desc()))
    empty = {"running": 0, "completed": 0, "cancelled": 0}
    return [{"id": r.id, "number": r.number, "created_by": r.created_by, "created_at": r.created_at,
             "comment": r.comment, "content_hash": r.content_hash, "instances": counts.get(r.id, dict(empty))}
            for r in rows]


def models() -> list[dict]:
    counts = instance_counts()
    result = []
    for model in db.session.scalars(select(ProcessModel).order_by(ProcessModel.key)):
        ids = db.session.execute(select(ProcessVersion.id, ProcessVersion.number).where(
            ProcessVersion.model_id == model.id).order_by(ProcessVersion.number)).all()
        running = sum(counts.get(v.id, {}).get("running", 0) for v in ids)
        latest = ids[-1] if ids else None
        result.append({"key": model.key, "name": model.name, "versions": len(ids),
                       "latest_id": latest.id if latest else None, "latest_number": latest.number if latest else None,
                       "running": running})
    return result


def deploy(key: str, actor: Actor, xml, forms=None, comment: str | None = None) -> tuple[ProcessVersion, bool]:
    """Deploy a diagram as the model's next version, with the reason; returns (version, created).

    An invalid diagram is never deployed (InvalidDiagram lists every problem). A diagram identical to a
    deployed version makes no new version: that version comes back with created False."""
    check_key(key)
    xml, forms = _xml_bytes(xml), _forms(forms)
    problems = problems_of(xml, forms)
    if not isinstance(comment, str) or not comment.strip():
        problems.append(Problem("say why this version is deployed (comment)", field="comment"))
    if problems:
        raise InvalidDiagram(problems)
    before = set(db.session.scalars(select(ProcessVersion.id).join(ProcessModel).where(ProcessModel.key == key)))
    version = get_engine().deploy(key, xml, forms, actor, comment=comment.strip(), known_roles=known_roles())
    created = version.id not in before
    if created:
        audit.record("process_deployed", actor=actor.username, target_type="wf_process_version",
                     target_id=version.id, details={"process": key, "number": version.number,
                                                    "comment": comment.strip(), "content_hash": version.content_hash})
        db.session.execute(delete(ProcessDraft).where(ProcessDraft.model_key == key,
                                                      ProcessDraft.owner == actor.username))
        db.session.commit()
    return version, created


def diff(key: str, a_id: int, b_id: int) -> dict:
    a, b = get_version(a_id, key), get_version(b_id, key)
    result = diagram_diff(a.bpmn_xml, b.bpmn_xml, a.forms, b.forms)
    result["a"] = {"id": a.id, "number": a.number}
    result["b"] = {"id": b.id, "number": b.number}
    return result


def download(version: ProcessVersion, actor: Actor) -> tuple[str, bytes]:
    """A deployed version's .bpmn file (an export: audited)."""
    audit.record("process_downloaded", actor=actor.username, target_type="wf_process_version", target_id=version.id,
                 details={"process": version.model.key, "number": version.number})
    db.session.commit()
    return f"{version.model.key}.v{version.number}.bpmn", version.bpmn_xml.encode("utf-8")


# ---------------------------------------------------------------- migration

def _latest(key: str) -> ProcessVersion:
    return get_engine().latest_version(key)


def _instances_to_move(key: str, from_version_id: int | None, instance_ids) -> list[int]:
    model = get_model(key)
    if instance_ids:
        if not isinstance(instance_ids, list) or not all(isinstance(i, int) and not isinstance(i, bool)
                                                         for i in instance_ids):
            raise InvalidInput(Problem("instance_ids must be a list of whole numbers", field="instance_ids"))
        return instance_ids
    if from_version_id is not None:
        get_version(from_version_id, key)
        return migrations.running_instances(db.session, from_version_id)
    latest = migrations.latest_version_id(db.session, model.id)
    return list(db.session.scalars(select(ProcessInstance.id).join(ProcessVersion).where(
        ProcessVersion.model_id == model.id, ProcessInstance.status == "running",
        ProcessInstance.version_id != latest).order_by(ProcessInstance.id)))


def migration_preview(key: str, from_version_id: int | None = None, instance_ids=None) -> dict:
    """What moving running instances to the newest version would do, instance by instance (nothing changes)."""
    target = _latest(key)
    engine = get_engine()
    plans = []
    for instance_id in _instances_to_move(key, from_version_id, instance_ids):
        plan, _workflow = migrations.plan(engine, instance_id, target.id)
        plans.append(plan.to_dict())
    db.session.rollback()
    return {"process": key, "to_version": {"id": target.id, "number": target.number}, "instances": plans,
            "allowed": sum(1 for p in plans if p["allowed"]), "refused": sum(1 for p in plans if not p["allowed"])}


def migrate(key: str, actor: Actor, instance_ids: list[int]) -> dict:
    """Move the given running instances to the newest version, each on its own; refused ones stay where they
    are, with the reason. The engine records ``instance_migrated``; one app entry sums the batch up."""
    if not instance_ids:
        raise InvalidInput(Problem("choose the instances to migrate", field="instance_ids"))
    instance_ids = _instances_to_move(key, None, instance_ids)
    target = _latest(key)
    engine = get_engine()
    migrated, refused = [], []
    for instance_id in instance_ids:
        instance = db.session.get(ProcessInstance, instance_id)
        if instance is None or instance.version.model.key != key:
            refused.append({"instance_id": instance_id, "reasons": [f"'{key}' has no instance {instance_id}"]})
            continue
        try:
            plan = migrations.migrate(engine, instance_id, target.id, actor)
            migrated.append(plan.to_dict())
        except migrations.MigrationRefused as err:
            refused.append({"instance_id": instance_id, "reasons": err.reasons})
    audit.record("instances_migrated", actor=actor.username, target_type="wf_process_model", target_id=key,
                 details={"to_version": target.number, "migrated": [p["instance_id"] for p in migrated],
                          "refused": {str(r["instance_id"]): r["reasons"] for r in refused}})
    db.session.commit()
    return {"process": key, "to_version": {"id": target.id, "number": target.number}, "migrated": migrated,
            "refused": refused}
