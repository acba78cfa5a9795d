"""What changed between two versions of a diagram: tasks, flows, lanes and forms, property by property.

Elements are matched by their BPMN id (the id is what instances, task rows and the audit trail know a
task by). For each element the properties the engine reads are compared: type, name, lane and role,
form, due/assignee expressions, instructions, scripts, timer, condition, default flow, called process,
boundary attachment.
"""
from __future__ import annotations

from .diagram import NS, _properties, parse_xml

_FLOW_NODES = ("task", "userTask", "manualTask", "scriptTask", "serviceTask", "sendTask", "receiveTask",
               "businessRuleTask", "callActivity", "subProcess", "startEvent", "endEvent", "intermediateCatchEvent",
               "intermediateThrowEvent", "boundaryEvent", "exclusiveGateway", "inclusiveGateway", "parallelGateway",
               "eventBasedGateway", "complexGateway")


def _text(node, path: str) -> str | None:
    found = node.xpath(path, namespaces=NS)
    if not found:
        return None
    value = found[0] if isinstance(found[0], str) else found[0].text
    return (value or "").strip() or None


def _node_properties(node, lanes_of: dict[str, tuple[str, str | None]]) -> dict:
    from lxml import etree

    props = {"type": etree.QName(node).localname, "name": node.get("name")}
    lane = lanes_of.get(node.get("id"))
    if lane:
        props["lane"], props["role"] = lane
    for key, value in _properties(node).items():
        props[f"property {key}"] = value
    props["instructions"] = _text(node, "./bpmn:extensionElements/spiffworkflow:instructionsForEndUser")
    props["script"] = _text(node, "./bpmn:script")
    props["preScript"] = _text(node, "./bpmn:extensionElements/spiffworkflow:preScript")
    props["postScript"] = _text(node, "./bpmn:extensionElements/spiffworkflow:postScript")
    for kind in ("timeDate", "timeDuration", "timeCycle"):
        value = _text(node, f"./bpmn:timerEventDefinition/bpmn:{kind}")
        if value is not None:
            props["timer"] = f"{kind}: {value}"
    definitions = [etree.QName(d).localname for d in node.xpath("./*[contains(local-name(), 'EventDefinition')]")]
    if definitions:
        props["event"] = ", ".join(definitions)
    for attribute in ("default", "calledElement", "attachedToRef", "cancelActivity"):
        if node.get(attribute) is not None:
            props[attribute] = node.get(attribute)
    return {k: v for k, v in props.items() if v is not None}


def _elements(xml: bytes | str) -> dict[str, dict[str, dict]]:
    root = parse_xml(xml if isinstance(xml, bytes) else xml.encode("utf-8"))
    lanes, lanes_of = {}, {}
    for lane in root.xpath(".//bpmn:lane", namespaces=NS):
        role = _properties(lane).get("role")
        lanes[lane.get("id")] = {k: v for k, v in {"name": lane.get("name"), "role": role}.items() if v is not None}
        for ref in lane.xpath("./bpmn:flowNodeRef/text()", namespaces=NS):
            lanes_of[ref.strip()] = (lane.get("name") or lane.get("id"), role)
    tasks = {}
    for kind in _FLOW_NODES:
        for node in root.xpath(f".//bpmn:process//bpmn:{kind}", namespaces=NS):
            tasks[node.get("id")] = _node_properties(node, lanes_of)
    flows = {}
    for flow in root.xpath(".//bpmn:sequenceFlow", namespaces=NS):
        props = {"name": flow.get("name"), "from": flow.get("sourceRef"), "to": flow.get("targetRef"),
                 "condition": _text(flow, "./bpmn:conditionExpression")}
        flows[flow.get("id")] = {k: v for k, v in props.items() if v is not None}
    processes = {p.get("id"): {k: v for k, v in {"name": p.get("name"), "executable": p.get("isExecutable")}.items()
                               if v is not None}
                 for p in root.xpath("./bpmn:process", namespaces=NS)}
    return {"tasks": tasks, "flows": flows, "lanes": lanes, "processes": processes}


def _compare(before: dict[str, dict], after: dict[str, dict]) -> dict:
    added = [{"id": key, **after[key]} for key in after if key not in before]
    removed = [{"id": key, **before[key]} for key in before if key not in after]
    changed = []
    for key in before:
        if key in after and before[key] != after[key]:
            changes = [{"property": name, "before": before[key].get(name), "after": after[key].get(name)}
                       for name in sorted(set(before[key]) | set(after[key]))
                       if before[key].get(name) != after[key].get(name)]
            changed.append({"id": key, "name": after[key].get("name") or before[key].get("name"),
                            "type": after[key].get("type") or before[key].get("type"), "changes": changes})
    return {"added": added, "removed": removed, "changed": changed}


def diagram_diff(xml_a: bytes | str, xml_b: bytes | str, forms_a: dict | None = None,
                 forms_b: dict | None = None) -> dict:
    """Added, removed and changed tasks, flows, lanes and processes (by id) and forms (by file name) from
    version a to version b, and the marks to draw on each side's diagram."""
    a, b = _elements(xml_a), _elements(xml_b)
    result = {kind: _compare(a[kind], b[kind]) for kind in ("tasks", "flows", "lanes", "processes")}
    forms_a, forms_b = forms_a or {}, forms_b or {}
    result["forms"] = {
        "added": sorted(name for name in forms_b if name not in forms_a),
        "removed": sorted(name for name in forms_a if name not in forms_b),
        "changed": sorted(name for name in forms_a if name in forms_b and forms_a[name] != forms_b[name]),
    }
    marks_a, marks_b = {}, {}
    for kind in ("tasks", "flows", "lanes"):
        for item in result[kind]["removed"]:
            marks_a[item["id"]] = "removed"
        for item in result[kind]["added"]:
            marks_b[item["id"]] = "added"
        for item in result[kind]["changed"]:
            marks_a[item["id"]] = marks_b[item["id"]] = "changed"
    result["marks"] = {"a": marks_a, "b": marks_b}
    result["identical"] = not any(result[kind][part] for kind in ("tasks", "flows", "lanes", "processes", "forms")
                                  for part in ("added", "removed", "changed"))
    return result
