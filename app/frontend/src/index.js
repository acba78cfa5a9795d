// The modeler bundle: bpmn-js with the properties panel and Huifang's spiffworkflow: extensions, and the
// small page scripts of the modeler and diff pages. Built by build.mjs into app/static/vendor/modeler/.
import BpmnModeler from 'bpmn-js/lib/Modeler';
import NavigatedViewer from 'bpmn-js/lib/NavigatedViewer';
import { BpmnPropertiesPanelModule, BpmnPropertiesProviderModule } from 'bpmn-js-properties-panel';

import spiffworkflow from './spiffworkflow.json';
import HuifangPropertiesProvider from './provider';
import { translateModule } from './i18n';
import { autoLayout } from './layout';
import { collapsedHosts, diagramLabel, drawnIds, topLevelDiagrams } from './diagrams';

const HuifangProviderModule = {
  __init__: ['huifangPropertiesProvider'],
  huifangPropertiesProvider: ['type', HuifangPropertiesProvider],
};

// ------------------------------------------------------------------ form schemas travelling with the diagram

export class FormStore {
  constructor(initial) {
    this.texts = {};
    Object.entries(initial || {}).forEach(([name, schema]) => {
      this.texts[name] = typeof schema === 'string' ? schema : JSON.stringify(schema, null, 2);
    });
    this.listeners = [];
  }

  get(name) { return this.texts[name]; }

  text(name) { return this.texts[name] || ''; }

  set(name, text) {
    if (text === undefined || text === null || text === '') delete this.texts[name];
    else this.texts[name] = text;
    this.listeners.forEach((fn) => fn(name));
  }

  // What is wrong with a schema's text, as a template for translate(): { template, values } or null.
  problem(text) {
    if (!text) return null;
    try {
      const value = JSON.parse(text);
      return value && typeof value === 'object' && !Array.isArray(value) ? null
        : { template: 'A JSON Schema is a JSON object', values: {} };
    } catch (err) {
      return { template: 'Not valid JSON: {error}', values: { error: err.message } };
    }
  }

  // Parsed schemas; text that is not JSON is sent as it is, so the server names the form in its problems.
  toJSON() {
    const out = {};
    Object.entries(this.texts).forEach(([name, text]) => {
      try { out[name] = JSON.parse(text); } catch (err) { out[name] = text; }
    });
    return out;
  }
}

// The page's language: data-locale on the canvas (or an ancestor), set from Flask-Babel's locale.
function pageLocale(container) {
  const element = typeof container === 'string' ? document.querySelector(container) : container;
  const marked = element && element.closest('[data-locale]');
  return (marked && marked.dataset.locale) || document.documentElement.lang || 'en';
}

export function createModeler({ container, properties, roles, forms, locale, decisions }) {
  const i18n = translateModule(locale || pageLocale(container));
  const modeler = new BpmnModeler({
    container,
    propertiesPanel: properties ? {
      parent: properties,
      layout: { groups: { huifang: { open: true }, general: { open: true } } },
    } : undefined,
    additionalModules: [i18n.module,
      ...(properties ? [BpmnPropertiesPanelModule, BpmnPropertiesProviderModule, HuifangProviderModule] : [])],
    moddleExtensions: { spiffworkflow },
    huifang: { roles: roles || [], forms: forms || new FormStore({}), decisions: decisions || [] },
  });
  modeler.huifangLocale = i18n.locale;
  modeler.huifangUntranslated = i18n.missing;
  return modeler;
}

export function createViewer({ container, locale }) {
  const i18n = translateModule(locale || pageLocale(container));
  return new NavigatedViewer({ container, additionalModules: [i18n.module], moddleExtensions: { spiffworkflow } });
}

// A diagram without layout (no BPMN DI) is laid out before it is shown; null when it has one. A file the
// layouter cannot read is shown as it is (bpmn-js then says what is wrong with it).
async function layoutIfNeeded(xml) {
  try {
    return await autoLayout(xml, { spiffworkflow });
  } catch (err) {
    return null;
  }
}

// ------------------------------------------------------------------ modeler page

function $(selector) { return document.querySelector(selector); }

async function postJSON(url, body, csrf) {
  const response = await fetch(url, {
    method: 'POST', credentials: 'same-origin',
    headers: { 'Content-Type': 'application/json', 'X-CSRFToken': csrf, Accept: 'application/json' },
    body: JSON.stringify(body),
  });
  let data = {};
  try { data = await response.json(); } catch (err) { data = { message: `HTTP ${response.status}` }; }
  return { status: response.status, data };
}

function escapeHtml(text) {
  return String(text).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }[c]));
}

// The shape a problem's element id stands for: the element's own, or for a process its pool (a problem of
// the process as a whole, such as a missing start event, is shown on the pool). Undefined when not drawn here.
function problemShape(registry, id) {
  return registry.get(id) || registry.filter((e) => e.type === 'bpmn:Participant'
    && e.businessObject.processRef && e.businessObject.processRef.id === id)[0];
}

// Select an element and bring it to the middle of the canvas at a readable zoom (on its own plane when it is
// inside a collapsed sub-process).
function zoomToElement(modeler, element) {
  const canvas = modeler.get('canvas');
  const root = canvas.findRoot(element);
  if (root && root !== canvas.getRootElement()) canvas.setRootElement(root);
  if (element.parent) modeler.get('selection').select(element);
  const box = element.waypoints
    ? element.waypoints.reduce((b, p) => ({ x1: Math.min(b.x1, p.x), y1: Math.min(b.y1, p.y), x2: Math.max(b.x2, p.x), y2: Math.max(b.y2, p.y) }),
      { x1: Infinity, y1: Infinity, x2: -Infinity, y2: -Infinity })
    : { x1: element.x, y1: element.y, x2: element.x + element.width, y2: element.y + element.height };
  if (!Number.isFinite(box.x1)) return;
  const viewbox = canvas.viewbox();
  const scale = Math.max(viewbox.scale, 1);
  const width = viewbox.outer.width / scale;
  const height = viewbox.outer.height / scale;
  canvas.viewbox({ x: (box.x1 + box.x2) / 2 - width / 2, y: (box.y1 + box.y2) / 2 - height / 2, width, height });
}

export async function modelerPage(cfg) {
  const t = (key) => (cfg.strings && cfg.strings[key]) || key;
  const forms = new FormStore(cfg.forms);
  const modeler = createModeler({
    container: '#canvas', properties: '#properties', roles: cfg.roles, forms, decisions: cfg.decisions,
  });
  window.huifangModeler = modeler; // for the browser tests and the curious
  const status = $('#modeler-status');
  const translate = modeler.get('translate');
  let dirty = false;
  let markers = [];
  let shownProblems = [];

  function say(text, kind) {
    status.className = `alert alert-${kind || 'info'}`;
    status.textContent = text;
  }
  function changed() {
    dirty = true;
    $('#modeler-dirty').textContent = t('Unsaved changes');
  }
  forms.listeners.push(changed);

  function clearProblems() {
    const canvas = modeler.get('canvas');
    const overlays = modeler.get('overlays');
    markers.forEach((id) => { try { canvas.removeMarker(id, 'huifang-problem'); } catch (err) { /* gone */ } });
    markers = [];
    overlays.remove({ type: 'huifang-problem' });
    $('#problems').innerHTML = '';
    $('#problems-count').textContent = '0';
  }

  // Problems from validate/deploy/upload: listed, and each one naming a drawn element is marked on it (a badge
  // with the messages; on a collapsed sub-process too when the element is inside it). A click on the problem
  // selects its element and zooms to it, opening the file's other diagram when the element is drawn there.
  function showProblems(problems) {
    clearProblems();
    shownProblems = problems || [];
    const registry = modeler.get('elementRegistry');
    const canvas = modeler.get('canvas');
    const overlays = modeler.get('overlays');
    const list = $('#problems');
    const perShape = new Map();
    const otherDiagram = (id) => {
      const definitions = modeler.getDefinitions();
      const shown = modeler.huifangDiagramId;
      return topLevelDiagrams(definitions).find((d) => d.id !== shown && drawnIds(definitions, d).has(id));
    };
    shownProblems.forEach((problem) => {
      const li = document.createElement('li');
      li.className = 'huifang-problem-item';
      const where = [problem.element_id, problem.line ? `${t('line')} ${problem.line}` : null, problem.field]
        .filter(Boolean).join(', ');
      li.innerHTML = (where ? `<code>${escapeHtml(where)}</code> ` : '') + escapeHtml(problem.message);
      if (problem.element_id) {
        li.dataset.elementId = problem.element_id;
        const shape = problemShape(registry, problem.element_id);
        const elsewhere = shape ? null : otherDiagram(problem.element_id);
        if (shape && shape.parent) {
          li.classList.add('huifang-problem-link');
          li.addEventListener('click', () => zoomToElement(modeler, shape));
          [shape, ...collapsedHosts(registry, shape)].forEach((target) => {
            if (!perShape.has(target)) perShape.set(target, []);
            perShape.get(target).push(problem.message);
          });
        } else if (elsewhere) {
          li.classList.add('huifang-problem-link');
          li.dataset.diagramId = elsewhere.id;
          li.addEventListener('click', async () => {
            await showDiagram(elsewhere.id);
            const moved = problemShape(modeler.get('elementRegistry'), problem.element_id);
            if (moved) zoomToElement(modeler, moved);
          });
        }
      }
      list.appendChild(li);
    });
    perShape.forEach((messages, shape) => {
      canvas.addMarker(shape, 'huifang-problem');
      markers.push(shape.id);
      overlays.add(shape, 'huifang-problem', {
        position: { top: -12, right: 12 },
        html: `<div class="huifang-problem-badge" data-element-id="${escapeHtml(shape.id)}" title="${escapeHtml(messages.join('\n'))}">${messages.length}</div>`,
      });
    });
    $('#problems-count').textContent = String(shownProblems.length);
    $('#problems-panel').classList.toggle('has-problems', shownProblems.length > 0);
  }

  // A file with several diagrams (bpmndi:BPMNDiagram of different processes or collaborations): say so, and let
  // the owner pick the one shown. All of them are saved and deployed as they are; the picker only chooses the view.
  function diagramPicker() {
    const diagrams = topLevelDiagrams(modeler.getDefinitions());
    let picker = $('#diagram-picker');
    if (diagrams.length < 2) {
      if (picker) picker.remove();
      return;
    }
    if (!picker) {
      picker = document.createElement('div');
      picker.id = 'diagram-picker';
      picker.className = 'alert alert-warning form-inline';
      $('#modeler-area').before(picker);
    }
    const label = translate('This file holds {n} diagrams; the modeler shows one at a time. Shown:', { n: diagrams.length });
    picker.innerHTML = `<label for="diagram-select">${escapeHtml(label)}</label> <select id="diagram-select" class="form-control input-sm">${
      diagrams.map((d) => `<option value="${escapeHtml(d.id)}">${escapeHtml(diagramLabel(d))}</option>`).join('')}</select>`;
    const select = picker.querySelector('select');
    select.value = modeler.huifangDiagramId;
    select.addEventListener('change', () => showDiagram(select.value));
  }

  // Show another diagram of the file: edits made in the one shown stay in the file (undo history does not).
  async function showDiagram(diagramId) {
    const wasDirty = dirty;
    await modeler.open(diagramId);
    modeler.huifangDiagramId = diagramId;
    const canvas = modeler.get('canvas');
    canvas.zoom('fit-viewport');
    canvas.scroll({ dx: 100, dy: 0 });
    dirty = wasDirty;
    $('#modeler-dirty').textContent = dirty ? t('Unsaved changes') : '';
    const select = $('#diagram-select');
    if (select) select.value = diagramId;
    document.body.dataset.diagram = diagramId;
    showProblems(shownProblems);
  }

  async function currentXml() {
    const { xml } = await modeler.saveXML({ format: true });
    return xml;
  }

  // Open XML in the modeler; a diagram without layout is laid out first (and is then an unsaved change).
  // Returns { warnings, laidOut } or null when it cannot be shown.
  async function open(xml) {
    const laid = await layoutIfNeeded(xml);
    try {
      const { warnings } = await modeler.importXML(laid ? laid.xml : xml);
      const shownRoot = modeler.get('canvas').getRootElement().businessObject;
      const diagrams = topLevelDiagrams(modeler.getDefinitions());
      const shown = diagrams.find((d) => d.plane.bpmnElement === shownRoot) || diagrams[0];
      modeler.huifangDiagramId = shown ? shown.id : null;
      document.body.dataset.diagram = modeler.huifangDiagramId || '';
      diagramPicker();
      const canvas = modeler.get('canvas');
      canvas.zoom('fit-viewport');
      canvas.scroll({ dx: 100, dy: 0 }); // clear of the palette on the left
      dirty = false;
      $('#modeler-dirty').textContent = '';
      if (laid) changed();
      document.body.dataset.laidOut = laid ? String(laid.laidOut) : '';
      return { warnings: warnings || [], laidOut: laid };
    } catch (err) {
      say(`${t('The diagram cannot be shown')}: ${err.message}`, 'danger');
      return null;
    }
  }

  function layoutNote(laid) {
    return laid ? t('It had no layout for {n} of {total} elements and was laid out automatically: check it, then save a draft or deploy.')
      .replace('{n}', laid.laidOut).replace('{total}', laid.total) : '';
  }

  modeler.on('commandStack.changed', changed);

  $('#btn-save-draft').addEventListener('click', async () => {
    const { status: code, data } = await postJSON(cfg.urls.draft, {
      bpmn_xml: await currentXml(), forms: forms.toJSON(), base_version_id: cfg.baseVersionId,
    }, cfg.csrf);
    if (code === 200) {
      dirty = false;
      $('#modeler-dirty').textContent = '';
      say(`${t('Draft saved')} ${data.result.updated_at_local || ''}`, 'success');
    } else {
      say(data.message || `HTTP ${code}`, 'danger');
    }
  });

  $('#btn-validate').addEventListener('click', async () => {
    const { status: code, data } = await postJSON(cfg.urls.validate, { bpmn_xml: await currentXml(), forms: forms.toJSON() }, cfg.csrf);
    if (code === 200 && data.valid) {
      showProblems([]);
      say(t('No problems: the diagram can be deployed.'), 'success');
    } else {
      showProblems(data.problems || []);
      say(`${t('Problems found')}: ${(data.problems || []).length}`, 'danger');
    }
  });

  $('#btn-deploy').addEventListener('click', async () => {
    const comment = $('#deploy-comment').value.trim();
    if (!comment) {
      say(t('Say why you deploy this version (comment).'), 'warning');
      $('#deploy-comment').focus();
      return;
    }
    const { status: code, data } = await postJSON(cfg.urls.deploy, {
      bpmn_xml: await currentXml(), forms: forms.toJSON(), comment,
    }, cfg.csrf);
    if (code === 201 || code === 200) {
      showProblems([]);
      dirty = false;
      $('#modeler-dirty').textContent = '';
      cfg.baseVersionId = data.result.id;
      $('#modeler-version').textContent = `v${data.result.number}`;
      say(data.message, code === 201 ? 'success' : 'info');
      $('#deploy-comment').value = '';
    } else {
      showProblems(data.problems || []);
      say(`${t('Not deployed')}: ${data.problems ? `${data.problems.length} ${t('problems')}` : data.message}`, 'danger');
    }
  });

  $('#upload-input').addEventListener('change', async (event) => {
    const file = event.target.files[0];
    if (!file) return;
    const body = new FormData();
    body.append('file', file);
    const response = await fetch(cfg.urls.upload, {
      method: 'POST', body, credentials: 'same-origin', headers: { 'X-CSRFToken': cfg.csrf, Accept: 'application/json' },
    });
    let data = {};
    try { data = await response.json(); } catch (err) { data = { message: `HTTP ${response.status}` }; }
    event.target.value = '';
    if (!data.bpmn_xml) {
      showProblems(data.problems || []);
      say(`${t('The file cannot be opened')}: ${data.message || ''}`, 'danger');
      return;
    }
    const opened = await open(data.bpmn_xml);
    if (opened === null) { showProblems(data.problems || []); return; }
    showProblems(data.problems || []);
    changed();
    const notes = [...(data.notes || []), layoutNote(opened.laidOut)].filter(Boolean).join(' ');
    const count = (data.problems || []).length;
    say(`${t('Opened')} ${file.name}. ${notes} ${count ? `${count} ${t('problems')}` : t('No problems.')}`,
      count || opened.laidOut ? 'warning' : 'success');
  });

  $('#btn-download').addEventListener('click', async () => {
    const blob = new Blob([await currentXml()], { type: 'application/xml' });
    const link = document.createElement('a');
    link.href = URL.createObjectURL(blob);
    link.download = `${cfg.key}.bpmn`;
    document.body.appendChild(link);
    link.click();
    link.remove();
  });

  window.addEventListener('beforeunload', (event) => {
    if (dirty) { event.preventDefault(); event.returnValue = ''; }
  });

  const opened = await open(cfg.xml);
  if (opened && opened.laidOut) say(layoutNote(opened.laidOut), 'warning');
  else if (opened && opened.warnings.length) say(`${t('Opened with warnings')}: ${opened.warnings.length}`, 'warning');
  else if (opened) say(t('Select an element to edit its properties; validate before you deploy.'), 'info');
  if (cfg.problems && cfg.problems.length) showProblems(cfg.problems);
  document.body.dataset.modelerReady = 'true';
  return modeler;
}

// ------------------------------------------------------------------ diff page

export async function diffPage(cfg) {
  const sides = [['#diff-a', cfg.a], ['#diff-b', cfg.b]];
  const viewers = [];
  for (const [container, side] of sides) {
    const viewer = createViewer({ container });
    viewers.push(viewer);
    try {
      const laid = await layoutIfNeeded(side.xml);
      await viewer.importXML(laid ? laid.xml : side.xml);
      if (laid) {
        const note = document.createElement('p');
        note.className = 'text-muted huifang-laid-out';
        note.textContent = (cfg.strings && cfg.strings.laidOut) || 'Laid out automatically (the version has no layout).';
        document.querySelector(container).after(note);
      }
      viewer.get('canvas').zoom('fit-viewport');
      const registry = viewer.get('elementRegistry');
      Object.entries(side.marks || {}).forEach(([id, kind]) => {
        if (registry.get(id)) viewer.get('canvas').addMarker(id, `huifang-diff-${kind}`);
      });
    } catch (err) {
      document.querySelector(container).textContent = err.message;
    }
  }
  document.body.dataset.diffReady = 'true';
  return viewers;
}

window.Huifang = { createModeler, createViewer, modelerPage, diffPage, FormStore, autoLayout };
