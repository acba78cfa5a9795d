"""Diagrams without a layout (no BPMN DI) are laid out by app/frontend/src/layout.js (bpmn-auto-layout, then
pools, lanes and sub-process planes of our own) before the modeler shows them. Run here in Node through
app/frontend/layout-cli.mjs, exactly the code the page bundles; the result is checked as geometry and as
a diagram (same engine content, spiffworkflow extensions kept, nothing left without a shape)."""
from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest
from lxml import etree

from app.services.modeling.modeler import layout_gaps
from tests.conftest import load_fixture
from workflows.diagram import inspect_diagram

ROOT = Path(__file__).resolve().parents[2]
FRONT = ROOT / "app" / "frontend"
FIXTURES = ROOT / "tests" / "fixtures"
NS = {"bpmn": "http://www.omg.org/spec/BPMN/20100524/MODEL", "bpmndi": "http://www.omg.org/spec/BPMN/20100524/DI",
      "dc": "http://www.omg.org/spec/DD/20100524/DC", "di": "http://www.omg.org/spec/DD/20100524/DI"}
ROLES = {"Agent", "Supervisor", "Manager", "VP", "DepartmentHead"}


def layout(xml: bytes) -> dict:
    assert (FRONT / "node_modules" / "bpmn-auto-layout").is_dir(), "run scripts/setup.sh (npm packages)"
    done = subprocess.run(["node", "layout-cli.mjs", "--json"], cwd=FRONT, input=xml, capture_output=True,
                          timeout=120, check=False)
    assert done.returncode == 0, done.stderr.decode()
    return json.loads(done.stdout)


def strip_di(xml: bytes) -> bytes:
    return re.sub(rb"<bpmndi:BPMNDiagram.*</bpmndi:BPMNDiagram>", b"", xml, flags=re.S)


def _bounds(root) -> dict[str, tuple[float, float, float, float]]:
    out = {}
    for shape in root.iterfind(".//bpmndi:BPMNShape", NS):
        b = shape.find("dc:Bounds", NS)
        out[shape.get("bpmnElement")] = tuple(float(b.get(k)) for k in ("x", "y", "width", "height"))
    return out


def _inside(inner, outer) -> bool:
    x, y, w, h = inner
    ox, oy, ow, oh = outer
    return ox <= x and oy <= y and x + w <= ox + ow and y + h <= oy + oh


def _overlap(a, b) -> bool:
    return a[0] < b[0] + b[2] and b[0] < a[0] + a[2] and a[1] < b[1] + b[3] and b[1] < a[1] + a[3]


def _on_border(point, box, slack=1.0) -> bool:
    x, y = point
    bx, by, bw, bh = box
    inside = bx - slack <= x <= bx + bw + slack and by - slack <= y <= by + bh + slack
    return inside and (min(abs(x - bx), abs(x - bx - bw)) <= slack or min(abs(y - by), abs(y - by - bh)) <= slack)


def check_geometry(xml: str, plane_of: str | None = None) -> etree._Element:
    """Every flow node of the shown processes has a shape; nodes sit in their lane, lanes in their pool;
    flow nodes do not overlap (a boundary event sits on its host); each flow runs from border to border."""
    root = etree.fromstring(xml.encode("utf-8"))
    assert not layout_gaps(xml.encode("utf-8")).needs_layout
    bounds = _bounds(root)
    by_id = {e.get("id"): e for e in root.iter() if e.get("id")}
    for lane in root.iterfind(".//bpmn:lane", NS):
        assert lane.get("id") in bounds, lane.get("id")
        for ref in lane.iterfind("bpmn:flowNodeRef", NS):
            assert _inside(bounds[ref.text], bounds[lane.get("id")]), (ref.text, lane.get("id"))
    for participant in root.iterfind(".//bpmn:participant", NS):
        pool = bounds[participant.get("id")]
        process = by_id.get(participant.get("processRef"))
        for lane in (process.iterfind(".//bpmn:lane", NS) if process is not None else []):
            assert _inside(bounds[lane.get("id")], pool)
        for node in (process if process is not None else []):
            if node.get("id") in bounds and etree.QName(node).localname != "laneSet":
                assert _inside(bounds[node.get("id")], pool), node.get("id")
    plane = root.find(".//bpmndi:BPMNPlane", NS)
    if plane_of:
        assert plane.get("bpmnElement") == plane_of
    nodes = [e.get("bpmnElement") for e in plane.iterfind("bpmndi:BPMNShape", NS)
             if etree.QName(by_id[e.get("bpmnElement")]).localname not in ("participant", "lane", "boundaryEvent")]
    for i, a in enumerate(nodes):
        for b in nodes[i + 1:]:
            assert not _overlap(bounds[a], bounds[b]), (a, b)
    for event in root.iterfind(".//bpmn:boundaryEvent", NS):
        assert _overlap(bounds[event.get("id")], bounds[event.get("attachedToRef")]), event.get("id")
    edges = {edge.get("bpmnElement") for edge in root.iterfind(".//bpmndi:BPMNEdge", NS)}
    for flow in root.iterfind(".//bpmn:sequenceFlow", NS):
        assert flow.get("id") in edges, flow.get("id")
    for edge in root.iterfind(".//bpmndi:BPMNEdge", NS):
        flow = by_id[edge.get("bpmnElement")]
        points = [(float(p.get("x")), float(p.get("y"))) for p in edge.iterfind("di:waypoint", NS)]
        assert len(points) >= 2
        if etree.QName(flow).localname == "sequenceFlow":
            assert _on_border(points[0], bounds[flow.get("sourceRef")]), (flow.get("id"), points)
            assert _on_border(points[-1], bounds[flow.get("targetRef")]), (flow.get("id"), points)
            for a, b in zip(points, points[1:]):
                assert a[0] == b[0] or a[1] == b[1], (flow.get("id"), points)  # right angles only
    return root


def _shipped(process_id: str) -> bytes | None:
    path = ROOT / "bpmn" / f"{process_id}.bpmn"
    return path.read_bytes() if path.exists() else None


def _same_for_the_engine(before: bytes, after: bytes, forms: dict) -> None:
    """The engine reads the same diagram (problems by element, lanes and roles, user tasks and their forms)."""
    problems_before, diagram_before = inspect_diagram(before, forms, known_roles=ROLES, resolve_process=_shipped)
    problems_after, diagram_after = inspect_diagram(after, forms, known_roles=ROLES, resolve_process=_shipped)
    assert [(p.element_id, p.message) for p in problems_after] == [(p.element_id, p.message) for p in problems_before]
    if diagram_before is not None:
        assert diagram_after.process_id == diagram_before.process_id
        assert diagram_after.lanes == diagram_before.lanes
        assert {k: vars(v) for k, v in diagram_after.user_tasks.items()} == \
            {k: vars(v) for k, v in diagram_before.user_tasks.items()}


def test_a_hand_written_diagram_gets_a_pool_lanes_and_flows():
    xml = (FIXTURES / "foreign" / "no_layout.bpmn").read_bytes()
    _, forms = load_fixture("two_step")
    gaps = layout_gaps(xml)
    assert gaps.needs_layout and gaps.total == 9 and len(gaps.missing) == 9
    result = layout(xml)
    assert (result["laidOut"], result["total"], result["addedPools"]) == (9, 9, 1)
    root = check_geometry(result["xml"])
    [participant] = root.iterfind(".//bpmn:participant", NS)
    assert participant.get("processRef") == "hand_written" and participant.get("name") == "手写回访 Hand-written visit"
    plane = root.find(".//bpmndi:BPMNPlane", NS)
    assert by_ref(root, plane.get("bpmnElement")).tag == f"{{{NS['bpmn']}}}collaboration"
    bounds = _bounds(root)
    assert bounds["lane_visitor"][1] < bounds["lane_supervisor"][1]  # lanes in the file's order
    assert 'name="role" value="Agent"' in result["xml"]  # the spiffworkflow extensions are kept
    _same_for_the_engine(xml, result["xml"].encode("utf-8"), forms)
    assert inspect_diagram(result["xml"].encode("utf-8"), forms, known_roles=ROLES)[0] == []


def by_ref(root, element_id):
    return next(e for e in root.iter() if e.get("id") == element_id)


def test_the_shipped_follow_up_visit_without_its_layout_keeps_its_pool_and_four_lanes():
    xml = (ROOT / "bpmn" / "followup_visit.bpmn").read_bytes()
    assert not layout_gaps(xml).needs_layout
    assert layout(xml) == {"xml": None}  # a diagram with its layout is left alone
    bare = strip_di(xml)
    result = layout(bare)
    assert result["addedPools"] == 0 and result["laidOut"] == result["total"] == 25
    root = check_geometry(result["xml"], plane_of="collab_followup_visit")
    lanes = [lane.get("id") for lane in root.iterfind(".//bpmn:lane", NS)]
    bounds = _bounds(root)
    assert [bounds[lane][1] for lane in lanes] == sorted(bounds[lane][1] for lane in lanes)
    forms = {p.name: json.loads(p.read_text()) for p in (ROOT / "bpmn").glob("followup_visit.*.json")}
    forms.update({p.name: json.loads(p.read_text()) for p in (ROOT / "bpmn").glob("complaint_case.*.json")})
    _same_for_the_engine(bare, result["xml"].encode("utf-8"), forms)
    assert inspect_diagram(result["xml"].encode("utf-8"), forms, known_roles=ROLES, resolve_process=_shipped)[0] == []


def test_processes_without_pools_are_each_given_one_and_a_lone_process_is_drawn_on_its_own_plane():
    two = (b'<?xml version="1.0" encoding="UTF-8"?>\n'
           b'<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="d" targetNamespace="t">'
           b'<bpmn:process id="first" isExecutable="true"><bpmn:startEvent id="a1"/><bpmn:task id="a2"/>'
           b'<bpmn:endEvent id="a3"/><bpmn:sequenceFlow id="af1" sourceRef="a1" targetRef="a2"/>'
           b'<bpmn:sequenceFlow id="af2" sourceRef="a2" targetRef="a3"/></bpmn:process>'
           b'<bpmn:process id="second"><bpmn:startEvent id="b1"/><bpmn:subProcess id="b2"><bpmn:startEvent id="c1"/>'
           b'<bpmn:task id="c2"/><bpmn:sequenceFlow id="cf1" sourceRef="c1" targetRef="c2"/></bpmn:subProcess>'
           b'<bpmn:sequenceFlow id="bf1" sourceRef="b1" targetRef="b2"/></bpmn:process></bpmn:definitions>')
    result = layout(two)
    assert result["addedPools"] == 2 and result["total"] == 5
    root = check_geometry(result["xml"])
    pools = _bounds(root)
    assert not _overlap(pools["Participant_first"], pools["Participant_second"])
    # the collapsed sub-process's content is on a plane of its own (bpmn-js drills down into it)
    planes = {p.get("bpmnElement"): p for p in root.iterfind(".//bpmndi:BPMNPlane", NS)}
    assert set(planes) == {"Collaboration", "b2"}
    assert {s.get("bpmnElement") for s in planes["b2"].iterfind("bpmndi:BPMNShape", NS)} == {"c1", "c2"}
    sub = next(s for s in planes["Collaboration"].iterfind("bpmndi:BPMNShape", NS) if s.get("bpmnElement") == "b2")
    assert sub.get("isExpanded") == "false"

    lone = layout(two.split(b"<bpmn:process id=\"second\">")[0] + b"</bpmn:definitions>")
    assert lone["addedPools"] == 0
    check_geometry(lone["xml"], plane_of="first")


@pytest.mark.parametrize("name", ["camunda_export.bpmn", "signavio_export.bpmn", "trisotech_export.bpmn"])
def test_exports_with_their_layout_are_left_alone(name):
    xml = (FIXTURES / "foreign" / name).read_bytes()
    assert not layout_gaps(xml).needs_layout
    assert layout(xml) == {"xml": None}


def test_a_partly_drawn_diagram_is_laid_out_whole():
    xml = (ROOT / "bpmn" / "followup_visit.bpmn").read_bytes()
    partial = re.sub(rb'<bpmndi:BPMNShape id="review_di".*?</bpmndi:BPMNShape>', b"", xml, flags=re.S)
    assert layout_gaps(partial).missing == ["review"]
    result = layout(partial)
    assert result["laidOut"] == 1 and result["total"] == 25
    check_geometry(result["xml"], plane_of="collab_followup_visit")
