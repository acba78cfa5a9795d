"""Write Huifang's shipped diagrams (bpmn/*.bpmn) from compact specs, with BPMN DI.

The diagrams are data, but laying out shapes by hand is error-prone: this lays every node in
its lane's row at a column, boundary events on their host's lower edge, and routes each flow
with right-angle waypoints, so the files open cleanly in a modeler. Run:
``python tools/bpmn_build.py`` (rewrites bpmn/followup_visit.bpmn, complaint_case.bpmn,
repair_followup.bpmn). The specs live in tools/bpmn_specs.py.
"""
from __future__ import annotations

from pathlib import Path
from xml.sax.saxutils import escape, quoteattr

LANE_H, COL_W, X0, LANE_X = 170, 150, 230, 150
SIZE = {"start": (36, 36), "end": (36, 36), "user": (120, 80), "script": (120, 80), "call": (120, 80), "xgw": (50, 50),
        "boundary": (36, 36), "timer": (36, 36)}


def _timer(nid: str, expression: str) -> str:
    return (f'\n      <bpmn:timerEventDefinition id="{nid}_timer"><bpmn:timeDate>{escape(expression)}'
            f'</bpmn:timeDate></bpmn:timerEventDefinition>\n    ')


def _props(props: dict) -> str:
    if not props:
        return ""
    inner = "".join(f'<spiffworkflow:property name="{k}" value={quoteattr(v)}/>' for k, v in props.items())
    return f"<spiffworkflow:properties>{inner}</spiffworkflow:properties>"


def build(spec: dict) -> str:
    pid = spec["id"]
    lanes = spec["lanes"]  # [(lane_id, name, role)]
    nodes = spec["nodes"]  # dicts: id, kind, name, lane, col, + doc/form/due/assignee/script/timer/attached/...
    flows = spec["flows"]  # (id, source, target, name|None, condition|None)
    by_id = {n["id"]: n for n in nodes}
    lane_index = {lane[0]: i for i, lane in enumerate(lanes)}
    incoming = {n["id"]: [] for n in nodes}
    outgoing = {n["id"]: [] for n in nodes}
    for fid, src, dst, *_ in flows:
        outgoing[src].append(fid)
        incoming[dst].append(fid)

    # geometry
    bounds = {}
    for n in nodes:
        if n["kind"] == "boundary":
            continue
        w, h = SIZE[n["kind"]]
        cx = X0 + n["col"] * COL_W
        cy = 40 + lane_index[n["lane"]] * LANE_H + LANE_H // 2
        bounds[n["id"]] = (cx - w // 2, cy - h // 2, w, h)
    for n in nodes:
        if n["kind"] == "boundary":
            hx, hy, hw, hh = bounds[n["attached"]]
            offset = n.get("offset", 0)
            bounds[n["id"]] = (hx + 20 + offset * 44, hy + hh - 18, 36, 36)

    out = ['<?xml version="1.0" encoding="UTF-8"?>',
           '<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"',
           '                  xmlns:bpmndi="http://www.omg.org/spec/BPMN/20100524/DI"',
           '                  xmlns:dc="http://www.omg.org/spec/DD/20100524/DC"',
           '                  xmlns:di="http://www.omg.org/spec/DD/20100524/DI"',
           '                  xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core"',
           f'                  id="defs_{pid}" targetNamespace="http://huifang.example/bpmn">',
           f'  <bpmn:collaboration id="collab_{pid}">',
           f'    <bpmn:participant id="pool_{pid}" name={quoteattr(spec["pool"])} processRef="{pid}"/>',
           '  </bpmn:collaboration>',
           f'  <bpmn:process id="{pid}" name={quoteattr(spec["name"])} isExecutable="true">']
    if spec.get("doc"):
        out.append(f'    <bpmn:documentation>{escape(spec["doc"])}</bpmn:documentation>')
    out.append(f'    <bpmn:laneSet id="lanes_{pid}">')
    for lid, lname, role in lanes:
        out.append(f'      <bpmn:lane id="{lid}" name={quoteattr(lname)}>')
        out.append(f'        <bpmn:extensionElements>{_props({"role": role})}</bpmn:extensionElements>')
        for n in nodes:
            if n.get("lane") == lid or (n["kind"] == "boundary" and by_id[n["attached"]]["lane"] == lid):
                out.append(f'        <bpmn:flowNodeRef>{n["id"]}</bpmn:flowNodeRef>')
        out.append('      </bpmn:lane>')
    out.append('    </bpmn:laneSet>')
    for n in nodes:
        nid, kind, name = n["id"], n["kind"], quoteattr(n["name"])
        io = "".join(f"<bpmn:incoming>{f}</bpmn:incoming>" for f in incoming[nid]) + \
             "".join(f"<bpmn:outgoing>{f}</bpmn:outgoing>" for f in outgoing[nid])
        doc = f'\n      <bpmn:documentation>{escape(n["doc"])}</bpmn:documentation>' if n.get("doc") else ""
        if kind == "start":
            timer = _timer(nid, n["timer"]) if n.get("timer") else ""  # a timer start event (periodic flows)
            out.append(f'    <bpmn:startEvent id="{nid}" name={name}>{doc}{io}{timer}</bpmn:startEvent>')
        elif kind == "timer":  # an intermediate timer catch event: wait until a date
            out.append(f'    <bpmn:intermediateCatchEvent id="{nid}" name={name}>{doc}{io}{_timer(nid, n["timer"])}'
                       f'</bpmn:intermediateCatchEvent>')
        elif kind == "end":
            out.append(f'    <bpmn:endEvent id="{nid}" name={name}>{doc}{io}</bpmn:endEvent>')
        elif kind == "xgw":
            default = f' default="{n["default"]}"' if n.get("default") else ""
            out.append(f'    <bpmn:exclusiveGateway id="{nid}" name={name}{default}>{doc}{io}</bpmn:exclusiveGateway>')
        elif kind == "script":
            out.append(f'    <bpmn:scriptTask id="{nid}" name={name}>{doc}\n      {io}\n'
                       f'      <bpmn:script>{escape(n["script"])}</bpmn:script>\n    </bpmn:scriptTask>')
        elif kind == "user":
            props = {"formJsonSchemaFilename": n["form"]}
            if n.get("ui_form"):
                props["formUiSchemaFilename"] = n["ui_form"]
            if n.get("due"):
                props["dueAt"] = n["due"]
            if n.get("assignee"):
                props["assignee"] = n["assignee"]
            instr = (f'<spiffworkflow:instructionsForEndUser>{escape(n["instructions"])}'
                     f'</spiffworkflow:instructionsForEndUser>') if n.get("instructions") else ""
            out.append(f'    <bpmn:userTask id="{nid}" name={name}>{doc}\n'
                       f'      <bpmn:extensionElements>{_props(props)}{instr}</bpmn:extensionElements>\n'
                       f'      {io}\n    </bpmn:userTask>')
        elif kind == "call":
            out.append(f'    <bpmn:callActivity id="{nid}" name={name} calledElement="{n["called"]}">{doc}{io}'
                       f'</bpmn:callActivity>')
        elif kind == "boundary":
            cancel = "true" if n.get("interrupting", True) else "false"
            out.append(f'    <bpmn:boundaryEvent id="{nid}" name={name} attachedToRef="{n["attached"]}" '
                       f'cancelActivity="{cancel}">{doc}{io}\n'
                       f'      <bpmn:timerEventDefinition id="{nid}_timer"><bpmn:timeDate>{escape(n["timer"])}'
                       f'</bpmn:timeDate></bpmn:timerEventDefinition>\n    </bpmn:boundaryEvent>')
    for fid, src, dst, fname, cond in flows:
        name = f" name={quoteattr(fname)}" if fname else ""
        if cond:
            out.append(f'    <bpmn:sequenceFlow id="{fid}"{name} sourceRef="{src}" targetRef="{dst}">'
                       f'<bpmn:conditionExpression>{escape(cond)}</bpmn:conditionExpression></bpmn:sequenceFlow>')
        else:
            out.append(f'    <bpmn:sequenceFlow id="{fid}"{name} sourceRef="{src}" targetRef="{dst}"/>')
    out.append('  </bpmn:process>')

    # diagram interchange
    width = X0 + (max(n.get("col", 0) for n in nodes) + 1) * COL_W
    out.append(f'  <bpmndi:BPMNDiagram id="diagram_{pid}">')
    out.append(f'    <bpmndi:BPMNPlane id="plane_{pid}" bpmnElement="collab_{pid}">')
    out.append(f'      <bpmndi:BPMNShape id="pool_{pid}_di" bpmnElement="pool_{pid}" isHorizontal="true">'
               f'<dc:Bounds x="120" y="40" width="{width - 120}" height="{LANE_H * len(lanes)}"/></bpmndi:BPMNShape>')
    for i, (lid, _n, _r) in enumerate(lanes):
        out.append(f'      <bpmndi:BPMNShape id="{lid}_di" bpmnElement="{lid}" isHorizontal="true">'
                   f'<dc:Bounds x="{LANE_X}" y="{40 + i * LANE_H}" width="{width - LANE_X}" height="{LANE_H}"/>'
                   f'</bpmndi:BPMNShape>')
    for n in nodes:
        x, y, w, h = bounds[n["id"]]
        extra = ' isMarkerVisible="true"' if n["kind"] == "xgw" else ""
        out.append(f'      <bpmndi:BPMNShape id="{n["id"]}_di" bpmnElement="{n["id"]}"{extra}>'
                   f'<dc:Bounds x="{x}" y="{y}" width="{w}" height="{h}"/></bpmndi:BPMNShape>')
    for fid, src, dst, *_ in flows:
        sx, sy, sw, sh = bounds[src]
        tx, ty, tw, th = bounds[dst]
        if by_id[src]["kind"] == "boundary":
            points = [(sx + sw // 2, sy + sh), (sx + sw // 2, ty + th // 2), (tx, ty + th // 2)]
            if tx < sx:
                points = [(sx + sw // 2, sy + sh), (sx + sw // 2, ty + th + 20), (tx + tw // 2, ty + th + 20),
                          (tx + tw // 2, ty + th)]
        elif tx > sx:
            a, b = (sx + sw, sy + sh // 2), (tx, ty + th // 2)
            mid = (a[0] + b[0]) // 2
            points = [a, b] if a[1] == b[1] else [a, (mid, a[1]), (mid, b[1]), b]
        else:  # a loop back: leave below the source, come in below the target
            low = max(sy + sh, ty + th) + 25
            points = [(sx + sw // 2, sy + sh), (sx + sw // 2, low), (tx + tw // 2, low), (tx + tw // 2, ty + th)]
        wps = "".join(f'<di:waypoint x="{x}" y="{y}"/>' for x, y in points)
        out.append(f'      <bpmndi:BPMNEdge id="{fid}_di" bpmnElement="{fid}">{wps}</bpmndi:BPMNEdge>')
    out.append('    </bpmndi:BPMNPlane>')
    out.append('  </bpmndi:BPMNDiagram>')
    out.append('</bpmn:definitions>')
    return "\n".join(out) + "\n"


if __name__ == "__main__":
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from bpmn_specs import SPECS

    target = Path(__file__).resolve().parents[1] / "bpmn"
    for spec in SPECS:
        (target / f"{spec['id']}.bpmn").write_text(build(spec), encoding="utf-8")
        print("wrote", spec["id"])
