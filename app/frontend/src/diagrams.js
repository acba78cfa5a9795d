// The diagrams of a BPMN file as a person sees them. A file may hold several bpmndi:BPMNDiagram elements: one
// per process or collaboration that is drawn (bpmn-js opens one of them at a time), plus one per collapsed
// sub-process (the plane bpmn-js drills down into, part of its parent's diagram; layout.js writes those
// too). Only the first kind is a diagram one picks.
function isA(element, type) {
  return !!element && typeof element.$instanceOf === 'function' && element.$instanceOf(type);
}

function planeOwner(diagram) {
  return diagram && diagram.plane ? diagram.plane.bpmnElement : undefined;
}

/** The diagrams one can open: their plane shows a process or a collaboration. */
export function topLevelDiagrams(definitions) {
  return ((definitions && definitions.get('diagrams')) || [])
    .filter((diagram) => isA(planeOwner(diagram), 'bpmn:Process') || isA(planeOwner(diagram), 'bpmn:Collaboration'));
}

/** A diagram's label for a picker: its name, else the name or id of what it shows. */
export function diagramLabel(diagram) {
  const owner = planeOwner(diagram);
  const pools = isA(owner, 'bpmn:Collaboration')
    ? (owner.get('participants') || []).map((p) => p.get('name')).filter(Boolean).join(' / ') : '';
  return diagram.get('name') || (owner && (owner.get('name') || pools || owner.id)) || diagram.id;
}

/** The ids of the elements a top-level diagram draws, its collapsed sub-processes' planes included. */
export function drawnIds(definitions, diagram) {
  const ids = new Set();
  const planes = new Map();
  ((definitions && definitions.get('diagrams')) || []).forEach((d) => {
    const owner = planeOwner(d);
    if (isA(owner, 'bpmn:SubProcess')) planes.set(owner.id, d);
  });
  const visit = (d) => {
    ((d.plane && d.plane.get('planeElement')) || []).forEach((di) => {
      const element = di.bpmnElement;
      if (!element || ids.has(element.id)) return;
      ids.add(element.id);
      if (planes.has(element.id)) visit(planes.get(element.id));
    });
  };
  const owner = planeOwner(diagram);
  if (owner) ids.add(owner.id);
  visit(diagram);
  return ids;
}

/** The top-level diagram that draws the most of `ids` (the first one on a tie), or undefined. */
export function diagramShowing(definitions, ids) {
  const diagrams = topLevelDiagrams(definitions);
  let best;
  let bestCount = -1;
  diagrams.forEach((diagram) => {
    const drawn = drawnIds(definitions, diagram);
    const count = ids.filter((id) => drawn.has(id)).length;
    if (count > bestCount) { best = diagram; bestCount = count; }
  });
  return best;
}

/**
 * The collapsed sub-process shapes a diagram-js element sits inside, innermost first. bpmn-js draws a collapsed
 * sub-process's content on a plane of its own (a root whose business object is the sub-process); a mark on an
 * element there is repeated on these shapes, so it can be seen from the process's own plane.
 */
export function collapsedHosts(registry, element) {
  const hosts = [];
  let root = element.parent;
  while (root) {
    while (root.parent) root = root.parent;
    const bo = root.businessObject;
    const host = isA(bo, 'bpmn:SubProcess') ? registry.filter((e) => e.businessObject === bo && !!e.parent)[0] : null;
    if (!host) break;
    hosts.push(host);
    root = host.parent;
  }
  return hosts;
}
