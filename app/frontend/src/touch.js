// Touch navigation for a diagram-js canvas: one finger pans, two fingers pinch-zoom around their midpoint.
// diagram-js navigates with the mouse and the wheel only (its MoveCanvas listens to mouse events, which a
// phone sends for a tap but not for a drag). Pointer events of type "touch" are handled here; the canvas box
// has `touch-action: none` (viewer.css), so the page itself does not scroll or zoom under the fingers.
const MIN_ZOOM = 0.05;
const MAX_ZOOM = 4;

function distance(a, b) {
  return Math.hypot(a.x - b.x, a.y - b.y);
}

export default function TouchNavigation(canvas, eventBus) {
  const container = canvas.getContainer();
  const pointers = new Map();
  let last = null; // { x, y, spread } of the previous move: midpoint and finger distance

  function relative(event) {
    const box = container.getBoundingClientRect();
    return { x: event.clientX - box.left, y: event.clientY - box.top };
  }

  function gesture() {
    const points = [...pointers.values()];
    if (points.length === 1) return { x: points[0].x, y: points[0].y, spread: 0 };
    const [a, b] = points;
    return { x: (a.x + b.x) / 2, y: (a.y + b.y) / 2, spread: distance(a, b) };
  }

  function down(event) {
    if (event.pointerType !== 'touch') return;
    pointers.set(event.pointerId, relative(event));
    last = pointers.size <= 2 ? gesture() : last;
  }

  function move(event) {
    if (event.pointerType !== 'touch' || !pointers.has(event.pointerId)) return;
    pointers.set(event.pointerId, relative(event));
    if (pointers.size > 2 || !last) return;
    const now = gesture();
    if (pointers.size === 2 && last.spread > 0 && now.spread > 0) {
      const scale = Math.min(MAX_ZOOM, Math.max(MIN_ZOOM, canvas.zoom() * (now.spread / last.spread)));
      canvas.zoom(scale, { x: now.x, y: now.y });
    }
    canvas.scroll({ dx: now.x - last.x, dy: now.y - last.y });
    last = now;
    eventBus.fire('huifang.touch.moved');
    event.preventDefault();
  }

  function up(event) {
    if (!pointers.delete(event.pointerId)) return;
    last = pointers.size ? gesture() : null;
  }

  container.addEventListener('pointerdown', down);
  container.addEventListener('pointermove', move, { passive: false });
  ['pointerup', 'pointercancel', 'pointerleave'].forEach((type) => container.addEventListener(type, up));
  eventBus.on('diagram.destroy', () => {
    container.removeEventListener('pointerdown', down);
    container.removeEventListener('pointermove', move);
    ['pointerup', 'pointercancel', 'pointerleave'].forEach((type) => container.removeEventListener(type, up));
  });
}
TouchNavigation.$inject = ['canvas', 'eventBus'];

export const TouchNavigationModule = {
  __init__: ['huifangTouchNavigation'],
  huifangTouchNavigation: ['type', TouchNavigation],
};
