"""Reading and checking a BPMN diagram before it may be deployed.

A diagram is deployable when it parses, validates against the BPMN XSD, SpiffWorkflow can
build a spec from it, and it passes Huifang's own rules: every lane names a role, every
user task has a form (a JSON Schema shipped with the diagram), every timer expression and
script runs in the sandbox. All problems are collected, each naming its element and line.
"""
from __future__ import annotations

import ast
import hashlib
import json
import re
from dataclasses import dataclass, field
from typing import Callable

import jsonschema
from lxml import etree
from SpiffWorkflow.bpmn.parser.ValidationException import ValidationException
from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition
from SpiffWorkflow.exceptions import SpiffWorkflowException
from SpiffWorkflow.spiff.parser.process import VALIDATOR, SpiffBpmnParser

from .errors import InvalidDiagram, Problem
from .sandbox import check_expression, check_script

NS = {
    "bpmn": "http://www.omg.org/spec/BPMN/20100524/MODEL",
    "spiffworkflow": "http://spiffworkflow.org/bpmn/schema/1.0/core",
}
FORM_PROPERTY = "formJsonSchemaFilename"
UI_FORM_PROPERTY = "formUiSchemaFilename"
ROLE_PROPERTY = "role"
# Loose on purpose: an unquoted PT1D is a (wrong) duration too, not a variable to look up at run time.
_ISO_DURATION = re.compile(r"^(R\d*/)?P[0-9YMWDTHS.]+$")

# Resolves a called process id to the XML of the diagram that defines it (or None).
ProcessResolver = Callable[[str], "bytes | None"]


@dataclass
class UserTaskInfo:
    bpmn_id: str
    name: str
    lane: str | None
    role: str | None
    form: str | None
    ui_form: str | None
    due_expression: str | None
    assignee_expression: str | None
    instructions: str | None


@dataclass
class Diagram:
    """A checked diagram, ready to be stored as a version."""
    process_id: str
    name: str
    xml: bytes
    content_hash: str
    lanes: dict[str, str]
    user_tasks: dict[str, UserTaskInfo]
    forms: dict[str, dict]
    called_processes: dict[str, bytes] = field(default_factory=dict)
    has_timers: bool = False


def content_hash(xml: bytes, forms: dict[str, dict]) -> str:
    digest = hashlib.sha256(xml)
    digest.update(json.dumps(forms, sort_keys=True, ensure_ascii=False).encode())
    return digest.hexdigest()


def _properties(node) -> dict[str, str]:
    return {
        p.get("name"): p.get("value")
        for p in node.xpath("./bpmn:extensionElements/spiffworkflow:properties/spiffworkflow:property", namespaces=NS)
    }


def _element_at_line(tree, line: int | None) -> str | None:
    if not line:
        return None
    best = None
    for el in tree.iter():
        if not isinstance(el.tag, str):
            continue
        if el.sourceline and el.sourceline <= line and el.get("id"):
            best = el.get("id")
        elif el.sourceline and el.sourceline > line:
            break
    return best


def parse_xml(xml: bytes | str) -> etree._Element:
    """Parse XML safely (no entities, no network); raise InvalidDiagram naming the line."""
    if isinstance(xml, str):
        xml = xml.encode("utf-8")
    parser = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False, remove_blank_text=False)
    try:
        root = etree.fromstring(xml, parser)
    except etree.XMLSyntaxError as err:
        raise InvalidDiagram(Problem(f"not well-formed XML: {err.msg}", line=err.lineno)) from None
    except ValueError as err:
        raise InvalidDiagram(Problem(f"cannot read the file: {err}")) from None
    if etree.QName(root).namespace != NS["bpmn"] or etree.QName(root).localname != "definitions":
        raise InvalidDiagram(Problem("not a BPMN 2.0 file: the root element must be bpmn:definitions", line=root.sourceline))
    return root


def _schema_problems(root) -> list[Problem]:
    if VALIDATOR.validator.validate(root):
        return []
    problems = []
    for err in VALIDATOR.validator.error_log:
        problems.append(Problem(f"XSD: {err.message}", element_id=_element_at_line(root, err.line), line=err.line))
    return problems


def _spiff_problem(err: Exception, root) -> Problem:
    if isinstance(err, ValidationException):
        line = err.line_number or None
        return Problem(str(err.args[0] if err.args else err), element_id=err.id or _element_at_line(root, line), line=line)
    if isinstance(err, SpiffWorkflowException):
        spec = getattr(err, "task_spec", None)
        return Problem(str(err), element_id=getattr(spec, "bpmn_id", None))
    return Problem(f"{type(err).__name__}: {err}")


def _timer_problem(expression: str) -> str | None:
    """Timer expressions are Python: a literal must be quoted ("P3D"), and must parse."""
    text = (expression or "").strip()
    if not text:
        return "timer has no expression"
    if _ISO_DURATION.match(text):
        days = re.fullmatch(r"PT(\d+)D", text)
        if days:
            return f"timer expression {text} is not quoted and days come before the T; write \"P{days.group(1)}D\""
        problem = _timer_literal_problem(text)
        return f"timer expression {text} is not quoted; write \"{text}\"" + (f" ({problem})" if problem else "")
    problem = check_expression(text)
    if problem:
        return f"timer expression {problem}"
    try:
        literal = ast.literal_eval(text)
    except (ValueError, SyntaxError):
        literal = None  # an expression over task data; checked when it runs
    if isinstance(literal, str):
        problem = _timer_literal_problem(literal)
        if problem:
            return f"timer expression {text} is invalid: {problem}"
    return None


def _timer_literal_problem(literal: str) -> str | None:
    days = re.fullmatch(r"PT(\d+)D", literal)
    if days:
        return f"days come before the T (write \"P{days.group(1)}D\")"
    try:
        if literal.startswith("R"):
            TimerEventDefinition.parse_iso_recurring_interval(literal)
        else:
            TimerEventDefinition.parse_time_or_duration(literal)
    except Exception:
        return "neither an ISO 8601 duration nor a date-time"
    return None


def check_diagram(
    xml: bytes | str,
    forms: dict[str, dict] | None = None,
    known_roles: set[str] | None = None,
    resolve_process: ProcessResolver | None = None,
    filename: str = "diagram.bpmn",
) -> Diagram:
    """Check a diagram; return it ready to deploy or raise InvalidDiagram with every problem."""
    problems, diagram = inspect_diagram(xml, forms, known_roles, resolve_process, filename)
    if problems:
        raise InvalidDiagram(problems)
    return diagram


def inspect_diagram(
    xml: bytes | str,
    forms: dict | None = None,
    known_roles: set[str] | None = None,
    resolve_process: ProcessResolver | None = None,
    filename: str = "diagram.bpmn",
) -> tuple[list[Problem], Diagram | None]:
    """Every problem of a diagram at once, each naming its element (and line) where it has one; and the
    diagram, ready to deploy, when there are none. Never raises for bad input, whatever the file holds:
    an XSD error does not hide the Huifang rules, only SpiffWorkflow's own parse waits for a clean file."""
    try:
        return _inspect(xml, forms, known_roles, resolve_process, filename)
    except Exception as err:  # noqa: BLE001 - a checker bug must surface as a problem, not a server error
        return [Problem(f"the diagram could not be checked ({type(err).__name__}: {err})")], None


def _inspect(xml, forms, known_roles, resolve_process, filename) -> tuple[list[Problem], Diagram | None]:
    if isinstance(xml, str):
        xml = xml.encode("utf-8")
    problems: list[Problem] = []
    forms = dict(forms or {})
    for name, schema in list(forms.items()):
        if not isinstance(schema, dict):
            problems.append(Problem(f"form {name} is not a JSON object (a JSON Schema)", field=str(name)))
            forms.pop(name)
    try:
        root = parse_xml(xml)
    except InvalidDiagram as err:
        return problems + err.problems, None
    problems.extend(_schema_problems(root))

    processes = root.xpath("./bpmn:process", namespaces=NS)
    executable = [p for p in processes if p.get("isExecutable") == "true"]
    if not executable:
        problems.append(Problem(
            "no executable process (set isExecutable=\"true\" on one bpmn:process)"
            + (f"; found {', '.join(p.get('id') or '?' for p in processes)}" if processes else ""),
            element_id=processes[0].get("id") if processes else None,
            line=(processes[0] if processes else root).sourceline))
    elif len(executable) > 1:
        problems.append(Problem(
            "several executable processes; Huifang deploys one process per diagram "
            f"(mark only one isExecutable=\"true\", found {', '.join(p.get('id') or '?' for p in executable)})",
            element_id=executable[1].get("id"), line=executable[1].sourceline))
    main = executable[0] if executable else None
    # The rules run on the executable process, or on every process when none is (a foreign export).
    lanes: dict[str, str] = {}
    user_tasks: dict[str, UserTaskInfo] = {}
    for process in executable[:1] or processes:
        found, process_lanes, process_tasks = _process_problems(process, forms, known_roles)
        problems.extend(found)
        if process is main:
            lanes, user_tasks = process_lanes, process_tasks

    has_timers = False
    for timer in root.xpath(".//bpmn:timerEventDefinition", namespaces=NS):
        has_timers = True
        event = timer.getparent()
        kinds = [k for k in ("timeDuration", "timeDate", "timeCycle") if timer.xpath(f"./bpmn:{k}", namespaces=NS)]
        if not kinds:
            problems.append(Problem("timer has no expression (choose a date, duration or cycle)",
                                    element_id=event.get("id"), line=timer.sourceline))
        for kind in kinds:
            for expr in timer.xpath(f"./bpmn:{kind}", namespaces=NS):
                problem = _timer_problem(expr.text or "")
                if problem:
                    problems.append(Problem(problem, element_id=event.get("id"), line=expr.sourceline))
    for script in root.xpath(".//bpmn:scriptTask", namespaces=NS):
        body = script.xpath("./bpmn:script", namespaces=NS)
        if not body or not (body[0].text or "").strip():
            problems.append(Problem(f"script task '{script.get('name') or script.get('id')}' has no script",
                                    element_id=script.get("id"), line=script.sourceline))
            continue
        language = (script.get("scriptFormat") or "python").lower()
        if "python" not in language:
            problems.append(Problem(f"script of '{script.get('name') or script.get('id')}' is {language}; "
                                    "Huifang runs Python scripts only", element_id=script.get("id"),
                                    line=script.sourceline))
            continue
        problem = check_script(body[0].text or "")
        if problem:
            problems.append(Problem(f"script {problem}", element_id=script.get("id"), line=body[0].sourceline))
    for kind in ("preScript", "postScript"):
        for script in root.xpath(f".//spiffworkflow:{kind}", namespaces=NS):
            problem = check_script(script.text or "")
            if problem:
                owner = script.getparent().getparent()
                problems.append(Problem(f"{kind} {problem}", element_id=owner.get("id"), line=script.sourceline))
    for cond in root.xpath(".//bpmn:sequenceFlow/bpmn:conditionExpression", namespaces=NS):
        problem = _expression_problem(cond.text or "")
        if problem:
            flow = cond.getparent()
            problems.append(Problem(f"condition {problem}", element_id=flow.get("id"), line=cond.sourceline))
    for process in executable[:1] or processes:
        problems.extend(_gateway_problems(process))
    problems.extend(_reference_problems(root))

    called: dict[str, bytes] = {}
    if main is not None and not problems:
        parser = SpiffBpmnParser(validator=None)
        try:
            parser.add_bpmn_xml(etree.ElementTree(root), filename)
            for call in root.xpath(".//bpmn:callActivity", namespaces=NS):
                target = call.get("calledElement")
                if target and target not in parser.process_parsers and target not in called:
                    target_xml = resolve_process(target) if resolve_process else None
                    if target_xml is None:
                        problems.append(Problem(f"call activity calls process '{target}', which is not deployed",
                                                element_id=call.get("id"), line=call.sourceline))
                        continue
                    called[target] = target_xml
                    parser.add_bpmn_xml(etree.ElementTree(parse_xml(target_xml)), f"{target}.bpmn")
            if not problems:
                parser.get_spec(main.get("id"))
                parser.get_subprocess_specs(main.get("id"))
        except Exception as err:  # SpiffWorkflow reports its own findings as exceptions
            problems.append(_spiff_problem(err, root))

    if problems:
        return problems, None
    return [], Diagram(
        process_id=main.get("id"), name=main.get("name") or main.get("id"), xml=xml,
        content_hash=content_hash(xml, forms), lanes=lanes, user_tasks=user_tasks,
        forms=forms, called_processes=called, has_timers=has_timers)


def _foreign(node) -> list[str]:
    """Attributes and extension elements of other modelers (camunda:formKey, zeebe:…, signavio:…)."""
    names = []
    for key in node.attrib:
        qname = etree.QName(key)
        if qname.namespace and qname.namespace not in (NS["bpmn"], NS["spiffworkflow"]):
            prefix = next((p for p, uri in (node.nsmap or {}).items() if uri == qname.namespace and p), "?")
            names.append(f"{prefix}:{qname.localname}")
    for ext in node.xpath("./bpmn:extensionElements/*", namespaces=NS):
        if isinstance(ext.tag, str) and etree.QName(ext).namespace not in (NS["spiffworkflow"],):
            names.append(ext.prefix + ":" + etree.QName(ext).localname if ext.prefix else etree.QName(ext).localname)
    return names


def _expression_problem(text: str) -> str | None:
    problem = check_expression(text)
    if problem and text.strip()[:2] in ("${", "#{") or problem and text.strip().startswith("="):
        return (f"{text.strip()!r} looks like a Camunda (JUEL/FEEL) expression; Huifang conditions are Python, "
                "e.g. approved == True")
    return problem


def _process_problems(process, forms: dict, known_roles: set[str] | None):
    """Lanes → roles and user tasks of one process, with what is wrong with them."""
    problems: list[Problem] = []
    lanes: dict[str, str] = {}
    all_lanes = process.xpath(".//bpmn:lane", namespaces=NS)
    for lane in all_lanes:
        if lane.xpath("./bpmn:childLaneSet/bpmn:lane", namespaces=NS):
            continue  # a parent lane: its child lanes carry the roles
        role = _properties(lane).get(ROLE_PROPERTY)
        if not role:
            problems.append(Problem(f"lane '{lane.get('name') or lane.get('id')}' has no role (add the spiffworkflow property 'role')",
                                    element_id=lane.get("id"), line=lane.sourceline))
            continue
        if known_roles is not None and role not in known_roles:
            problems.append(Problem(f"lane '{lane.get('name')}' maps to unknown role '{role}'",
                                    element_id=lane.get("id"), line=lane.sourceline))
        lanes[lane.get("name") or lane.get("id")] = role

    user_tasks: dict[str, UserTaskInfo] = {}
    for node in process.xpath(".//bpmn:userTask", namespaces=NS):
        props = _properties(node)
        form = props.get(FORM_PROPERTY)
        where = dict(element_id=node.get("id"), line=node.sourceline)
        if not form:
            foreign = _foreign(node)
            hint = f"; {', '.join(foreign)} of another modeler is not read by Huifang" if foreign else ""
            problems.append(Problem(f"user task '{node.get('name') or node.get('id')}' has no form "
                                    f"(property {FORM_PROPERTY}){hint}", **where))
        elif form not in forms:
            problems.append(Problem(f"user task '{node.get('name')}' uses form {form}, which was not supplied", **where))
        else:
            try:
                jsonschema.validators.validator_for(forms[form]).check_schema(forms[form])
            except jsonschema.SchemaError as err:
                problems.append(Problem(f"form {form} is not a valid JSON Schema: {err.message}", **where))
        for key in ("dueAt", "assignee"):
            if props.get(key):
                problem = check_expression(props[key])
                if problem:
                    problems.append(Problem(f"{key} expression {problem}", **where))
        instructions = node.xpath("./bpmn:extensionElements/spiffworkflow:instructionsForEndUser/text()", namespaces=NS)
        lane_name = None
        for lane in all_lanes:
            if node.get("id") in [(t or "").strip() for t in lane.xpath("./bpmn:flowNodeRef/text()", namespaces=NS)]:
                lane_name = lane.get("name") or lane.get("id")
        if all_lanes and lane_name is None:
            problems.append(Problem(f"user task '{node.get('name')}' is in no lane, so no role may work it", **where))
        user_tasks[node.get("id")] = UserTaskInfo(
            bpmn_id=node.get("id"), name=node.get("name") or node.get("id"), lane=lane_name,
            role=lanes.get(lane_name) if lane_name else None, form=form, ui_form=props.get(UI_FORM_PROPERTY),
            due_expression=props.get("dueAt"), assignee_expression=props.get("assignee"),
            instructions=instructions[0].strip() if instructions else None)
    if user_tasks and not all_lanes:
        problems.append(Problem("the process has user tasks but no lanes; put each user task in a lane mapped to a role",
                                element_id=process.get("id"), line=process.sourceline))
    return problems, lanes, user_tasks


def _reference_problems(root) -> list[Problem]:
    """References to elements that do not exist (SpiffWorkflow's own message for these is obscure)."""
    ids = set(root.xpath("//@id"))
    problems = []
    checks = [(".//bpmn:sequenceFlow", ("sourceRef", "targetRef")), (".//bpmn:boundaryEvent", ("attachedToRef",))]
    for path, attributes in checks:
        for el in root.xpath(path, namespaces=NS):
            for attribute in attributes:
                target = el.get(attribute)
                if target and target not in ids:
                    problems.append(Problem(f"{attribute} points to '{target}', which does not exist",
                                            element_id=el.get("id"), line=el.sourceline))
    for ref in root.xpath(".//bpmn:lane/bpmn:flowNodeRef", namespaces=NS):
        if (ref.text or "").strip() not in ids:
            problems.append(Problem(f"lane lists '{(ref.text or '').strip()}', which does not exist",
                                    element_id=ref.getparent().get("id"), line=ref.sourceline))
    return problems


def _gateway_problems(process) -> list[Problem]:
    """An exclusive/inclusive gateway that splits must have a default flow or a condition on every branch."""
    problems = []
    flows = {f.get("id"): f for f in process.xpath(".//bpmn:sequenceFlow", namespaces=NS)}
    for kind in ("exclusiveGateway", "inclusiveGateway"):
        for gw in process.xpath(f".//bpmn:{kind}", namespaces=NS):
            outgoing = [f for f in flows.values() if f.get("sourceRef") == gw.get("id")]
            if len(outgoing) < 2:
                continue
            default = gw.get("default")
            unconditioned = [f.get("id") for f in outgoing
                             if f.get("id") != default and not f.xpath("./bpmn:conditionExpression", namespaces=NS)]
            if unconditioned:
                problems.append(Problem(
                    f"gateway '{gw.get('name') or gw.get('id')}' has outgoing flows without a condition "
                    f"({', '.join(unconditioned)}) and they are not the default flow",
                    element_id=gw.get("id"), line=gw.sourceline))
    return problems


def build_specs(diagram_xml: bytes, process_id: str, called_processes: dict[str, bytes] | None = None):
    """Build the SpiffWorkflow spec and subprocess specs of a checked diagram."""
    parser = SpiffBpmnParser(validator=None)
    parser.add_bpmn_xml(etree.ElementTree(parse_xml(diagram_xml)), f"{process_id}.bpmn")
    for pid, xml in (called_processes or {}).items():
        parser.add_bpmn_xml(etree.ElementTree(parse_xml(xml)), f"{pid}.bpmn")
    return parser.get_spec(process_id), parser.get_subprocess_specs(process_id)
