// Diagrams without a layout (no BPMN DI: hand-written XML, some exports) are laid out before they are shown.
// bpmn-auto-layout (npm registry) places every process's flow nodes and flows on a grid; this module asks it
// once per process, then draws what it leaves out for Huifang's diagrams: pools (participants) and lanes
// (lane → role is edited on the lane), each lane a band holding its own nodes in the grid's columns, and
// collapsed sub-processes on planes of their own. Only the DI is new: the semantic XML is the original's,
// read and written with the modeler's own moddle (spiffworkflow: extensions kept), plus the incoming/outgoing
// references BPMN makes redundant (the layouter follows them), and, where lanes or several processes have no
// pool yet, a collaboration with one participant per process. Pure functions of the XML: the modeler and
// diff pages call it in the browser; tests call it in Node.
import { BpmnModdle } from 'bpmn-moddle';
import { layoutProcess } from 'bpmn-auto-layout';

const POOL_HEADER = 30;
const LANE_HEADER = 30;
const ROW = 140; // bpmn-auto-layout's grid row height
const BAND_PADDING = 20;
const POOL_GAP = 60;
const LEFT = 100;
const TOP = 80;

function isA(element, type) {
  return !!element && typeof element.$instanceOf === 'function' && element.$instanceOf(type);
}

function rootsOf(definitions, type) {
  return (definitions.get('rootElements') || []).filter((element) => isA(element, type));
}

function flowNodes(container) {
  return (container.get('flowElements') || []).filter((element) => isA(element, 'bpmn:FlowNode'));
}

// What gets a shape: flow nodes, and the data objects and stores the layouter places with them.
function drawable(element) {
  return ['bpmn:FlowNode', 'bpmn:DataObjectReference', 'bpmn:DataStoreReference'].some((type) => isA(element, type));
}

// The processes a diagram shows: its plane's process, or its collaboration's participants' processes.
function drawnProcesses(definitions) {
  const planes = (definitions.get('diagrams') || []).map((d) => d.plane).filter((p) => p && p.bpmnElement);
  const processes = new Set();
  planes.forEach((plane) => {
    const element = plane.bpmnElement;
    if (isA(element, 'bpmn:Process')) processes.add(element);
    if (isA(element, 'bpmn:Collaboration')) {
      (element.get('participants') || []).forEach((p) => p.processRef && processes.add(p.processRef));
    }
  });
  return [...processes];
}

/** Which of the shown processes' flow nodes have no shape: { total, missing: [ids], hasDiagram }. */
export function layoutGaps(definitions) {
  const shown = new Set();
  (definitions.get('diagrams') || []).forEach((diagram) => {
    ((diagram.plane && diagram.plane.get('planeElement')) || []).forEach((di) => di.bpmnElement && shown.add(di.bpmnElement));
  });
  const drawn = drawnProcesses(definitions);
  const hasDiagram = drawn.length > 0;
  const processes = hasDiagram ? drawn : rootsOf(definitions, 'bpmn:Process');
  const nodes = processes.flatMap(flowNodes);
  return { total: nodes.length, missing: nodes.filter((n) => !shown.has(n)).map((n) => n.id), hasDiagram };
}

// ------------------------------------------------------------------ geometry helpers

const mid = (b) => ({ x: b.x + b.width / 2, y: b.y + b.height / 2 });
const point = (x, y) => ({ x: Math.round(x), y: Math.round(y) });

// Does an axis-parallel polyline cross a shape (other than its ends)?
function crosses(points, obstacles) {
  for (let i = 1; i < points.length; i += 1) {
    const [a, b] = [points[i - 1], points[i]];
    const [x1, x2] = [Math.min(a.x, b.x), Math.max(a.x, b.x)];
    const [y1, y2] = [Math.min(a.y, b.y), Math.max(a.y, b.y)];
    if (obstacles.some((o) => x1 < o.x + o.width - 2 && x2 > o.x + 2 && y1 < o.y + o.height - 2 && y2 > o.y + 2)) return true;
  }
  return false;
}

// Around the shapes in the way: down from the source, along below them, up into the target.
function detour(source, target, obstacles) {
  const s = mid(source);
  const t = mid(target);
  const [left, right] = [Math.min(s.x, t.x), Math.max(s.x, t.x)];
  const under = obstacles.filter((o) => o.x < right && o.x + o.width > left).map((o) => o.y + o.height);
  const low = Math.max(source.y + source.height, target.y + target.height, ...under) + 20;
  return [point(s.x, source.y + source.height), point(s.x, low), point(t.x, low), point(t.x, target.y + target.height)];
}

function routeAround(source, target, fromBelow, shapes) {
  const obstacles = shapes.filter((b) => b !== source && b !== target);
  const points = route(source, target, fromBelow);
  return crosses(points, obstacles) ? detour(source, target, obstacles) : points;
}

function route(source, target, fromBelow) {
  const s = mid(source);
  const t = mid(target);
  if (fromBelow) { // a boundary event leaves downwards
    const start = point(s.x, source.y + source.height);
    if (t.y > start.y + 10 && target.x > s.x) return [start, point(s.x, t.y), point(target.x, t.y)];
    const low = Math.max(start.y, target.y + target.height) + 20;
    return [start, point(s.x, low), point(t.x, low), point(t.x, target.y + target.height)];
  }
  if (target.x >= source.x + source.width) { // forward
    const a = point(source.x + source.width, s.y);
    const b = point(target.x, t.y);
    if (Math.abs(a.y - b.y) < 1) return [a, b];
    const x = (a.x + b.x) / 2;
    return [a, point(x, a.y), point(x, b.y), b];
  }
  const low = Math.max(source.y + source.height, target.y + target.height) + 25; // back: around below
  return [point(s.x, source.y + source.height), point(s.x, low), point(t.x, low), point(t.x, target.y + target.height)];
}

function verticalRoute(source, target) {
  const s = mid(source);
  const t = mid(target);
  const down = t.y > s.y;
  const a = point(s.x, down ? source.y + source.height : source.y);
  const b = point(t.x, down ? target.y : target.y + target.height);
  if (Math.abs(a.x - b.x) < 1) return [a, b];
  const y = (a.y + b.y) / 2;
  return [a, point(a.x, y), point(b.x, y), b];
}

// ------------------------------------------------------------------ asking bpmn-auto-layout

function linkFlows(container) {
  (container.get('flowElements') || []).forEach((element) => {
    if (isA(element, 'bpmn:SequenceFlow') && element.sourceRef && element.targetRef) {
      const out = element.sourceRef.get('outgoing');
      const inc = element.targetRef.get('incoming');
      if (!out.includes(element)) out.push(element);
      if (!inc.includes(element)) inc.push(element);
    }
    if (isA(element, 'bpmn:SubProcess')) linkFlows(element);
  });
}

// bpmn-auto-layout lays out the first process of a file: each process in turn is put first.
async function gridOf(moddle, definitions, process) {
  const roots = definitions.get('rootElements');
  const diagrams = definitions.get('diagrams');
  const saved = { roots: [...roots], diagrams: [...diagrams] };
  roots.splice(0, roots.length, process, ...saved.roots.filter((r) => r !== process && !isA(r, 'bpmn:Collaboration')));
  diagrams.splice(0, diagrams.length);
  let xml;
  try {
    ({ xml } = await moddle.toXML(definitions));
  } finally {
    roots.splice(0, roots.length, ...saved.roots);
    diagrams.splice(0, diagrams.length, ...saved.diagrams);
  }
  const laid = await moddle.fromXML(await layoutProcess(xml));
  const shapes = {};
  const edges = {};
  (laid.rootElement.get('diagrams') || []).forEach((diagram) => {
    (diagram.plane.get('planeElement') || []).forEach((di) => {
      if (!di.bpmnElement) return;
      if (di.bounds) shapes[di.bpmnElement.id] = { x: di.bounds.x, y: di.bounds.y, width: di.bounds.width, height: di.bounds.height };
      if (di.waypoint) edges[di.bpmnElement.id] = di.waypoint.map((w) => point(w.x, w.y));
    });
  });
  return { shapes, edges };
}

// ------------------------------------------------------------------ drawing

class Drawing {
  constructor(moddle, definitions) {
    this.moddle = moddle;
    this.definitions = definitions;
    this.used = new Set();
    const collect = (element) => {
      if (element && element.id) this.used.add(element.id);
    };
    collect(definitions);
    definitions.get('rootElements').forEach((root) => {
      collect(root);
      (root.get('flowElements') || []).forEach(collect);
    });
  }

  id(base, suffix = '_di') {
    let id = `${base}${suffix}`;
    for (let n = 2; this.used.has(id); n += 1) id = `${base}${suffix}${n}`;
    this.used.add(id);
    return id;
  }

  shape(element, bounds, attrs = {}) {
    return this.moddle.create('bpmndi:BPMNShape', {
      id: this.id(element.id), bpmnElement: element, ...attrs,
      bounds: this.moddle.create('dc:Bounds', {
        x: Math.round(bounds.x), y: Math.round(bounds.y), width: Math.round(bounds.width), height: Math.round(bounds.height),
      }),
    });
  }

  edge(element, waypoints) {
    return this.moddle.create('bpmndi:BPMNEdge', {
      id: this.id(element.id), bpmnElement: element,
      waypoint: waypoints.map((w) => this.moddle.create('dc:Point', { x: w.x, y: w.y })),
    });
  }

  diagram(element, planeElements) {
    const plane = this.moddle.create('bpmndi:BPMNPlane', { id: this.id(`BPMNPlane_${element.id}`, ''), bpmnElement: element, planeElement: planeElements });
    return this.moddle.create('bpmndi:BPMNDiagram', { id: this.id(`BPMNDiagram_${element.id}`, ''), plane });
  }
}

function shapeAttrs(element) {
  if (isA(element, 'bpmn:ExclusiveGateway')) return { isMarkerVisible: true };
  if (isA(element, 'bpmn:SubProcess')) return { isExpanded: false };
  return {};
}

// Flow nodes, boundary events and sequence flows of one container, placed by `place` (id → bounds).
function drawFlowElements(drawing, container, grid, place) {
  const elements = container.get('flowElements') || [];
  const out = [];
  const bounds = {};
  const byId = {};
  elements.filter(drawable).forEach((node) => {
    byId[node.id] = node;
    const b = place(node);
    if (!b) return;
    bounds[node.id] = b;
    out.push(drawing.shape(node, b, shapeAttrs(node)));
  });
  elements.filter((e) => isA(e, 'bpmn:SequenceFlow')).forEach((flow) => {
    const s = flow.sourceRef && bounds[flow.sourceRef.id];
    const t = flow.targetRef && bounds[flow.targetRef.id];
    if (!s || !t) return;
    const others = Object.entries(bounds).filter(([id]) => !isA(byId[id], 'bpmn:BoundaryEvent')).map(([, b]) => b);
    out.push(drawing.edge(flow, routeAround(s, t, isA(flow.sourceRef, 'bpmn:BoundaryEvent'), others)));
  });
  return { planeElements: out, bounds };
}

// Collapsed sub-processes: their content on a plane of their own (bpmn-js drills down into it).
function drawSubProcesses(drawing, container, grid, diagrams) {
  (container.get('flowElements') || []).filter((e) => isA(e, 'bpmn:SubProcess')).forEach((sub) => {
    const nodes = (sub.get('flowElements') || []).filter(drawable);
    if (!nodes.length) return;
    const minX = Math.min(...nodes.map((n) => (grid.shapes[n.id] || { x: 0 }).x));
    const minY = Math.min(...nodes.map((n) => (grid.shapes[n.id] || { y: 0 }).y));
    const { planeElements } = drawFlowElements(drawing, sub, grid, (node) => {
      const b = grid.shapes[node.id];
      return b && { ...b, x: b.x - minX + LEFT, y: b.y - minY + TOP };
    });
    diagrams.push(drawing.diagram(sub, planeElements));
    drawSubProcesses(drawing, sub, grid, diagrams);
  });
}

function leafLanes(lane) {
  const children = lane.childLaneSet ? lane.childLaneSet.get('lanes') || [] : [];
  return children.length ? children.flatMap(leafLanes) : [lane];
}

function laneDepth(lanes) {
  return lanes.length ? 1 + Math.max(...lanes.map((l) => laneDepth(l.childLaneSet ? l.childLaneSet.get('lanes') || [] : []))) : 0;
}

// One process drawn at (x, y): inside a pool with lanes when it has them. Returns its pool bounds.
function drawProcess(drawing, process, grid, participant, origin, planeElements, diagrams) {
  const topLanes = (process.get('laneSets') || []).flatMap((set) => set.get('lanes') || []);
  const depth = laneDepth(topLanes);
  const nodes = (process.get('flowElements') || []).filter(drawable);
  const hosted = nodes.filter((n) => !isA(n, 'bpmn:BoundaryEvent'));
  const gridMinX = Math.min(...hosted.map((n) => (grid.shapes[n.id] || { x: 0 }).x), 0);
  const contentX = origin.x + (participant ? POOL_HEADER : 0) + depth * LANE_HEADER + 40 - gridMinX;

  // bands: one per leaf lane (in order), and one for nodes in no lane
  const leaves = topLanes.flatMap(leafLanes);
  const laneOf = new Map();
  leaves.forEach((lane) => (lane.get('flowNodeRef') || []).forEach((node) => { if (!laneOf.has(node)) laneOf.set(node, lane); }));
  const bands = [...leaves, null].map((lane) => ({ lane, nodes: hosted.filter((n) => (laneOf.get(n) || null) === lane) }))
    .filter((band) => band.lane || band.nodes.length);
  const rowOf = (node) => Math.round(mid(grid.shapes[node.id] || { x: 0, y: 0, width: 0, height: 0 }).y / ROW);
  let y = origin.y;
  const placed = {};
  bands.forEach((band) => {
    const rows = [...new Set(band.nodes.filter((n) => grid.shapes[n.id]).map(rowOf))].sort((a, b) => a - b);
    band.y = y;
    band.height = Math.max(rows.length, 1) * ROW + BAND_PADDING;
    band.nodes.forEach((node) => {
      const b = grid.shapes[node.id];
      if (!b) return;
      const rowMid = y + BAND_PADDING / 2 + rows.indexOf(rowOf(node)) * ROW + ROW / 2;
      placed[node.id] = { ...b, x: b.x + contentX, y: rowMid - b.height / 2 };
    });
    y += band.height;
  });
  // boundary events move with their host
  nodes.filter((n) => isA(n, 'bpmn:BoundaryEvent')).forEach((event) => {
    const b = grid.shapes[event.id];
    const hostGrid = event.attachedToRef && grid.shapes[event.attachedToRef.id];
    const host = event.attachedToRef && placed[event.attachedToRef.id];
    if (b && host && hostGrid) placed[event.id] = { ...b, x: b.x - hostGrid.x + host.x, y: b.y - hostGrid.y + host.y };
    else if (b) placed[event.id] = { ...b, x: b.x + contentX, y: b.y + origin.y };
  });

  const right = Math.max(...Object.values(placed).map((b) => b.x + b.width), contentX + 200) + 50;
  const height = Math.max(y - origin.y, ROW);
  const pool = { x: origin.x, y: origin.y, width: right - origin.x, height };
  if (participant) planeElements.push(drawing.shape(participant, pool, { isHorizontal: true }));

  // lanes: leaves span their band; a parent lane spans its children
  const laneX = origin.x + (participant ? POOL_HEADER : 0);
  const drawLane = (lane, level) => {
    const children = lane.childLaneSet ? lane.childLaneSet.get('lanes') || [] : [];
    let top;
    let bottom;
    if (children.length) {
      const spans = children.map((child) => drawLane(child, level + 1));
      top = Math.min(...spans.map((s) => s.top));
      bottom = Math.max(...spans.map((s) => s.bottom));
    } else {
      const band = bands.find((b) => b.lane === lane);
      top = band.y;
      bottom = band.y + band.height;
    }
    const x = laneX + level * LANE_HEADER;
    planeElements.push(drawing.shape(lane, { x, y: top, width: pool.x + pool.width - x, height: bottom - top }, { isHorizontal: true }));
    return { top, bottom };
  };
  topLanes.forEach((lane) => drawLane(lane, 0));

  const { planeElements: flows } = drawFlowElements(drawing, process, grid, (node) => placed[node.id]);
  planeElements.push(...flows);
  drawSubProcesses(drawing, process, grid, diagrams);
  return pool;
}

/**
 * Lay out a diagram that has no (or an incomplete) layout. Returns { xml, laidOut, addedPools } or null when
 * every shown flow node already has a shape. `moddleExtensions` as the modeler's (spiffworkflow: …).
 */
export async function autoLayout(xml, moddleExtensions) {
  const moddle = new BpmnModdle(moddleExtensions || {});
  const { rootElement: definitions } = await moddle.fromXML(xml);
  const gaps = layoutGaps(definitions);
  if (!gaps.total || !gaps.missing.length) return null;

  let collaboration = rootsOf(definitions, 'bpmn:Collaboration')[0];
  const processes = rootsOf(definitions, 'bpmn:Process');
  processes.forEach(linkFlows);
  const hasLanes = (p) => (p.get('laneSets') || []).some((set) => (set.get('lanes') || []).length);
  let addedPools = 0;
  if (!collaboration && (processes.length > 1 || processes.some(hasLanes))) {
    // lanes are drawn in a pool, and several processes side by side need one each: a collaboration
    const ids = new Drawing(moddle, definitions);
    collaboration = moddle.create('bpmn:Collaboration', { id: ids.id('Collaboration', ''), participants: [] });
    processes.forEach((process) => {
      const participant = moddle.create('bpmn:Participant', {
        id: ids.id(`Participant_${process.id}`, ''), name: process.name || process.id, processRef: process,
      });
      participant.$parent = collaboration;
      collaboration.get('participants').push(participant);
      addedPools += 1;
    });
    collaboration.$parent = definitions;
    definitions.get('rootElements').unshift(collaboration);
  }

  const drawing = new Drawing(moddle, definitions);
  const planeElements = [];
  const diagrams = [];
  let y = TOP;
  if (collaboration) {
    let widest = 0;
    const pools = {};
    for (const participant of collaboration.get('participants') || []) {
      const process = participant.processRef;
      if (process && isA(process, 'bpmn:Process')) {
        const grid = await gridOf(moddle, definitions, process);
        const pool = drawProcess(drawing, process, grid, participant, { x: LEFT, y }, planeElements, diagrams);
        pools[participant.id] = pool;
        widest = Math.max(widest, pool.width);
        y += pool.height + POOL_GAP;
      } else { // a black-box pool
        pools[participant.id] = { x: LEFT, y, width: 600, height: 100 };
        planeElements.push(drawing.shape(participant, pools[participant.id], { isHorizontal: true }));
        y += 100 + POOL_GAP;
      }
    }
    // message flows between the shapes just drawn (pools, or the nodes in them)
    const placed = {};
    planeElements.forEach((di) => { if (di.bounds) placed[di.bpmnElement.id] = di.bounds; });
    (collaboration.get('messageFlows') || []).forEach((flow) => {
      const s = flow.sourceRef && placed[flow.sourceRef.id];
      const t = flow.targetRef && placed[flow.targetRef.id];
      if (s && t) planeElements.push(drawing.edge(flow, verticalRoute(s, t)));
    });
    diagrams.unshift(drawing.diagram(collaboration, planeElements));
  } else {
    const [process] = processes;
    const grid = await gridOf(moddle, definitions, process);
    drawProcess(drawing, process, grid, null, { x: LEFT, y }, planeElements, diagrams);
    diagrams.unshift(drawing.diagram(process, planeElements));
  }
  const all = definitions.get('diagrams');
  all.splice(0, all.length, ...diagrams);
  const { xml: out } = await moddle.toXML(definitions, { format: true });
  return { xml: out, laidOut: gaps.missing.length, total: gaps.total, addedPools };
}
