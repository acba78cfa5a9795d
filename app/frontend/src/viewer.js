// The instance viewer bundle (app/static/vendor/viewer/huifang-viewer.js): a version's diagram, read-only, with
// where an instance stands (active elements, the path taken, waiting timers, incidents) or, on a model's page,
// how many instances wait at each element. bpmn-js's NavigatedViewer (no modeling code), touch navigation
// for phones, names in the reader's language, the modeler's layout for diagrams without DI.
// API (window.HuifangViewer): see show() below and docs in the lead's note.
import NavigatedViewer from 'bpmn-js/lib/NavigatedViewer';
import { getBusinessObject, is } from 'bpmn-js/lib/util/ModelUtil';

import spiffworkflow from './spiffworkflow.json';
import { translateModule } from './i18n';
import { autoLayout } from './layout';
import { showNamesIn } from './names';
import { TouchNavigationModule } from './touch';
import { collapsedHosts, diagramLabel, diagramShowing, topLevelDiagrams } from './diagrams';

const MARKERS = {
  active: 'huifang-active',
  completed: 'huifang-completed',
  taken_flows: 'huifang-taken',
};
const OVERLAY_TYPES = ['huifang-timer', 'huifang-incident', 'huifang-count'];
// Overlays keep a readable size when a large diagram is fitted into a phone's width.
const OVERLAY_SCALE = { min: 1, max: 1.5 };
const CLOCK = '<svg viewBox="0 0 16 16" width="12" height="12" aria-hidden="true"><circle cx="8" cy="8" r="6.5" '
  + 'fill="none" stroke="currentColor" stroke-width="1.6"/><path d="M8 4v4.3l2.8 1.7" fill="none" '
  + 'stroke="currentColor" stroke-width="1.6" stroke-linecap="round"/></svg>';

function escapeHtml(text) {
  return String(text).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }[c]));
}

function resolveContainer(element) {
  const found = typeof element === 'string' ? document.querySelector(element) : element;
  if (!found) throw new Error(`HuifangViewer: no element ${element}`);
  return found;
}

function pageLocale(container) {
  const marked = container.closest('[data-locale]');
  return (marked && marked.dataset.locale) || document.documentElement.lang || 'en';
}

function list(value) {
  return Array.isArray(value) ? value.filter((id) => typeof id === 'string' && id) : [];
}

// The state's ids, as they are used: which elements each option names.
function stateIds(state) {
  return [
    ...list(state.active), ...list(state.completed), ...list(state.taken_flows),
    ...(state.timers || []).map((t) => t && t.id), ...(state.incidents || []).map((i) => i && i.id),
    ...Object.keys(state.counts || {}),
  ].filter(Boolean);
}

async function layoutIfNeeded(xml) {
  try {
    return await autoLayout(xml, { spiffworkflow });
  } catch (err) {
    return null; // bpmn-js says what is wrong with it
  }
}

class InstanceView {
  constructor(container, viewer, i18n) {
    this.container = container;
    this.viewer = viewer;
    this.locale = i18n.locale;
    this.untranslated = i18n.missing;
    this.translate = viewer.get('translate');
    this.state = {};
    this.missing = [];
    this.marked = [];
    this.laidOut = null;
    this.warnings = [];
    this.diagrams = [];
    this.diagramId = null;
    this.moved = false; // the reader panned or zoomed: a resize then keeps their view
    viewer.on(['canvas.viewbox.changing', 'huifang.touch.moved'], () => { if (this.fitting === 0) this.moved = true; });
    this.fitting = 0;
    this.closeIncidents = (event) => {
      if (event && event.target.closest && event.target.closest('.huifang-incident')) return;
      container.querySelectorAll('.huifang-incident.open').forEach((open) => {
        open.classList.remove('open');
        open.querySelector('button').setAttribute('aria-expanded', 'false');
      });
    };
    container.addEventListener('click', this.closeIncidents);
    if (typeof ResizeObserver === 'function') {
      this.resizeObserver = new ResizeObserver(() => {
        viewer.get('canvas').resized();
        if (!this.moved) this.fit();
      });
      this.resizeObserver.observe(container);
    }
  }

  /** Zoom so the whole diagram fits its box (centred). */
  fit() {
    const canvas = this.viewer.get('canvas');
    this.fitting += 1;
    try {
      canvas.zoom('fit-viewport', 'auto');
    } finally {
      this.fitting -= 1;
    }
    this.moved = false;
  }

  /** Scroll and zoom to elements (default: the active ones), at a readable zoom. */
  focus(ids) {
    const registry = this.viewer.get('elementRegistry');
    const canvas = this.viewer.get('canvas');
    const elements = (ids || this.state.active || []).map((id) => registry.get(id)).filter(Boolean);
    if (!elements.length) return false;
    this.fitting += 1;
    try {
      if (canvas.zoom() < 1) canvas.zoom(1);
      canvas.scrollToElement(elements, { top: 60, bottom: 60, left: 60, right: 60 });
    } finally {
      this.fitting -= 1;
    }
    this.moved = true; // a resize (a phone turned) keeps this view rather than fitting the whole
    return true;
  }

  setLocale(locale) {
    this.locale = locale || this.locale;
    showNamesIn(this.viewer, this.locale);
  }

  clear() {
    const canvas = this.viewer.get('canvas');
    const registry = this.viewer.get('elementRegistry');
    this.marked.forEach(([id, marker]) => { if (registry.get(id)) canvas.removeMarker(id, marker); });
    this.marked = [];
    const overlays = this.viewer.get('overlays');
    OVERLAY_TYPES.forEach((type) => overlays.remove({ type }));
    registry.getAll().forEach((element) => {
      const gfx = registry.getGraphics(element);
      if (gfx && gfx.hasAttribute('data-heat')) gfx.removeAttribute('data-heat');
    });
  }

  mark(element, marker) {
    this.viewer.get('canvas').addMarker(element, marker);
    this.marked.push([element.id, marker]);
  }

  /** Show a new state (same options as show()); what was shown before is removed. */
  update(state) {
    this.state = { ...(state || {}) };
    const s = this.state;
    this.clear();
    const registry = this.viewer.get('elementRegistry');
    const missing = new Set();
    const found = (id) => {
      const element = registry.get(id);
      if (!element) missing.add(id);
      return element;
    };
    const markWithHosts = (element, marker) => {
      this.mark(element, marker);
      collapsedHosts(registry, element).forEach((host) => this.mark(host, `${marker}-within`));
    };

    // The path taken: flows named, or when none are given, flows between elements that ran.
    let taken = list(s.taken_flows);
    if (s.taken_flows === undefined || s.taken_flows === null) {
      // a sub-process holding an element that ran has run (or runs) too
      const within = (ids) => ids.flatMap((id) => { const el = registry.get(id); return el ? collapsedHosts(registry, el).map((h) => h.id) : []; });
      const ran = new Set([...list(s.completed), ...list(s.active), ...within([...list(s.completed), ...list(s.active)])]);
      const done = new Set([...list(s.completed), ...within(list(s.completed))]);
      taken = registry.filter((e) => e.waypoints && is(e, 'bpmn:SequenceFlow')
        && done.has(getBusinessObject(e).sourceRef && getBusinessObject(e).sourceRef.id)
        && ran.has(getBusinessObject(e).targetRef && getBusinessObject(e).targetRef.id)).map((e) => e.id);
    }
    list(s.completed).forEach((id) => { const el = found(id); if (el) this.mark(el, MARKERS.completed); });
    taken.forEach((id) => { const el = found(id); if (el) this.mark(el, MARKERS.taken_flows); });
    list(s.active).forEach((id) => { const el = found(id); if (el) markWithHosts(el, MARKERS.active); });

    const overlays = this.viewer.get('overlays');
    const t = this.translate;
    const byElement = (items) => {
      const out = new Map();
      (items || []).forEach((item) => {
        if (!item || !item.id) return;
        if (!out.has(item.id)) out.set(item.id, []);
        out.get(item.id).push(item);
      });
      return out;
    };

    byElement(s.timers).forEach((timers, id) => {
      const element = found(id);
      if (!element) return;
      this.mark(element, 'huifang-has-timer');
      const rows = timers.map((timer) => {
        const due = timer.due_text || '';
        const title = timer.title || t('Waiting timer, due {due}', { due });
        return `<div class="huifang-timer" data-element-id="${escapeHtml(id)}" title="${escapeHtml(title)}">`
          + `${CLOCK}<span class="huifang-timer-due">${escapeHtml(due)}</span></div>`;
      }).join('');
      overlays.add(id, 'huifang-timer', {
        position: { bottom: -4, left: -10 }, scale: OVERLAY_SCALE,
        html: `<div class="huifang-timers">${rows}</div>`,
      });
    });

    byElement(s.incidents).forEach((incidents, id) => {
      const element = found(id);
      if (!element) return;
      markWithHosts(element, 'huifang-has-incident');
      const messages = incidents.map((incident) => String(incident.message || t('Incident')));
      const html = document.createElement('div');
      html.className = 'huifang-incident';
      html.dataset.elementId = id;
      html.innerHTML = `<button type="button" class="huifang-incident-mark" aria-expanded="false" title="${
        escapeHtml(messages.join('\n'))}" aria-label="${escapeHtml(t('Incident'))}">!</button>`
        + `<div class="huifang-incident-message" role="tooltip">${
          messages.map((m) => `<p>${escapeHtml(m)}</p>`).join('')}</div>`;
      // A tap opens the message (a phone has no hover), a second tap or a tap elsewhere closes it.
      const button = html.querySelector('button');
      button.addEventListener('click', (event) => {
        event.stopPropagation();
        const open = !html.classList.contains('open');
        this.closeIncidents();
        html.classList.toggle('open', open);
        button.setAttribute('aria-expanded', String(open));
      });
      overlays.add(id, 'huifang-incident', { position: { top: -14, left: -14 }, scale: OVERLAY_SCALE, html });
    });

    const counts = Object.entries(s.counts || {}).filter(([, n]) => Number(n) > 0);
    const hostCounts = new Map();
    const highest = Math.max(1, ...counts.map(([, n]) => Number(n)));
    counts.forEach(([id, n]) => {
      const element = found(id);
      if (!element) return;
      this.mark(element, 'huifang-heat');
      registry.getGraphics(element).setAttribute('data-heat', String(Math.max(1, Math.ceil((4 * Number(n)) / highest))));
      collapsedHosts(registry, element).forEach((host) => hostCounts.set(host.id, (hostCounts.get(host.id) || 0) + Number(n)));
      this.countBadge(element, Number(n), false);
    });
    hostCounts.forEach((n, id) => {
      if (s.counts[id]) return; // the sub-process has its own count
      const host = registry.get(id);
      this.mark(host, 'huifang-heat-within');
      this.countBadge(host, n, true);
    });

    this.missing = [...missing];
    this.container.dataset.huifangMissing = this.missing.join(' ');
    return this.missing;
  }

  countBadge(element, n, within) {
    const title = this.translate(within ? '{n} instances wait inside' : '{n} instances wait here', { n });
    this.viewer.get('overlays').add(element.id, 'huifang-count', {
      position: { top: -12, right: 12 }, scale: OVERLAY_SCALE,
      html: `<div class="huifang-count${within ? ' huifang-count-within' : ''}" data-element-id="${
        escapeHtml(element.id)}" data-count="${n}" title="${escapeHtml(title)}">${n}</div>`,
    });
  }

  /** Open another of the file's diagrams (an id from `diagrams`) and show the state on it. */
  async open(diagramId) {
    await this.viewer.open(diagramId);
    this.diagramId = diagramId;
    this.afterOpen();
  }

  afterOpen() {
    showNamesIn(this.viewer, this.locale);
    this.fit();
    this.update(this.state);
    this.container.dataset.huifangDiagram = this.diagramId || '';
  }

  destroy() {
    if (this.resizeObserver) this.resizeObserver.disconnect();
    this.container.removeEventListener('click', this.closeIncidents);
    this.viewer.destroy();
    this.container.classList.remove('huifang-viewer');
  }
}

/**
 * Show a BPMN diagram in `element` (an element or a selector) with an instance's state or a model's heat.
 *   options.active       [ids]   elements where the instance waits now          → marker `huifang-active`
 *   options.completed    [ids]   elements that ran                               → marker `huifang-completed`
 *   options.taken_flows  [ids]   sequence flows taken                           → marker `huifang-taken`
 *                                (omitted: flows from a completed element to a completed or active one)
 *   options.timers       [{id, due_text, title?}]  waiting timers: an overlay under the element
 *   options.incidents    [{id, message}]           red "!" overlay, the message on hover and on tap
 *   options.counts       {id: n}                   heat: a badge with n and a shade on the element
 *   options.locale       'zh' | 'en'               names (name / spiffworkflow property name_en) and texts
 *   options.diagram      diagram id                which of the file's diagrams (default: the one showing
 *                                                  most of the ids above)
 *   options.focus        true                      zoom to the active elements instead of fitting the whole
 * Resolves to an InstanceView: { viewer, update(state), setLocale(locale), fit(), focus(ids), open(diagramId),
 * diagrams: [{id, name}], diagramId, missing: [ids not drawn], laidOut, warnings, destroy() }.
 */
export async function show(element, xml, options = {}) {
  const container = resolveContainer(element);
  container.classList.add('huifang-viewer');
  const i18n = translateModule(options.locale || pageLocale(container));
  const viewer = new NavigatedViewer({
    container,
    additionalModules: [i18n.module, TouchNavigationModule],
    moddleExtensions: { spiffworkflow },
  });
  const view = new InstanceView(container, viewer, i18n);
  view.state = { ...options };
  try {
    const laid = await layoutIfNeeded(xml);
    const { warnings } = await viewer.importXML(laid ? laid.xml : xml);
    view.warnings = warnings || [];
    view.laidOut = laid ? { laidOut: laid.laidOut, total: laid.total } : null;
  } catch (err) {
    container.classList.add('huifang-viewer-failed');
    const box = document.createElement('div');
    box.className = 'huifang-viewer-error';
    box.textContent = `${view.translate('The diagram cannot be shown')}: ${err.message}`;
    container.appendChild(box);
    viewer.huifangError = err;
    throw err;
  }
  const definitions = viewer.getDefinitions();
  const diagrams = topLevelDiagrams(definitions);
  view.diagrams = diagrams.map((d) => ({ id: d.id, name: diagramLabel(d) }));
  const wanted = (options.diagram && diagrams.find((d) => d.id === options.diagram))
    || diagramShowing(definitions, stateIds(options)) || diagrams[0];
  view.diagramId = wanted ? wanted.id : null;
  if (wanted && diagrams.indexOf(wanted) > 0) await viewer.open(wanted.id);
  view.afterOpen();
  if (options.focus) view.focus();
  container.dataset.huifangViewerReady = 'true';
  return view;
}

window.HuifangViewer = { show };
