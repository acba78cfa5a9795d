// The decision-table bundle (app/static/vendor/dmn/huifang-dmn.js): dmn-js's decision-table editor and viewer,
// nothing else of dmn-js (SpiffWorkflow 3.2 runs one decision table per DMN file: no DRD, no literal or boxed
// expressions). Cells hold Python, as SpiffWorkflow evaluates them: the "simple mode" editors, which write FEEL
// ("a","b", [1..5], not(...), true), are left out, and Python is the only expression language offered.
// API (window.HuifangDmn): edit(), view(), blank(); described at each and in the lead's note.
import EditingManager from 'dmn-js-shared/lib/base/EditingManager';
import Manager from 'dmn-js-shared/lib/base/Manager';
import { is } from 'dmn-js-shared/lib/util/ModelUtil';
import DecisionTableEditor from 'dmn-js-decision-table/lib/Editor';
import DecisionTableViewer from 'dmn-js-decision-table/lib/Viewer';
import simpleModeModule from 'dmn-js-decision-table/lib/features/simple-mode';
import simpleBooleanEditModule from 'dmn-js-decision-table/lib/features/simple-boolean-edit';
import simpleDateEditModule from 'dmn-js-decision-table/lib/features/simple-date-edit';
import simpleDateTimeEditModule from 'dmn-js-decision-table/lib/features/simple-date-time-edit';
import simpleDurationEditModule from 'dmn-js-decision-table/lib/features/simple-duration-edit';
import simpleNumberEditModule from 'dmn-js-decision-table/lib/features/simple-number-edit';
import simpleStringEditModule from 'dmn-js-decision-table/lib/features/simple-string-edit';
import simpleTimeEditModule from 'dmn-js-decision-table/lib/features/simple-time-edit';
import expressionLanguageModule from 'dmn-js-decision-table/lib/features/expression-language';

import zhDmn from './zh-dmn.json';
import { makeTranslate, normalizeLocale } from './i18n';

const DICTIONARIES = { zh: zhDmn };
const FEEL_ONLY = new Set([simpleModeModule, simpleBooleanEditModule, simpleDateEditModule, simpleDateTimeEditModule,
  simpleDurationEditModule, simpleNumberEditModule, simpleStringEditModule, simpleTimeEditModule,
  expressionLanguageModule]);
const PYTHON = { options: [{ value: 'python', label: 'Python' }], defaults: { editor: 'python' } };
export const DMN13 = 'https://www.omg.org/spec/DMN/20191111/MODEL/';

const isTable = (element) => is(element, 'dmn:Decision') && is(element.decisionLogic, 'dmn:DecisionTable');

class PythonTableEditor extends DecisionTableEditor {
  getModules() {
    return super.getModules().filter((module) => !FEEL_ONLY.has(module));
  }
}

class TableModeler extends EditingManager {
  _getViewProviders() { return [{ id: 'decisionTable', constructor: PythonTableEditor, opens: isTable }]; }
}

class TableViewer extends Manager {
  _getViewProviders() { return [{ id: 'decisionTable', constructor: DecisionTableViewer, opens: isTable }]; }
}

function resolveContainer(element) {
  const found = typeof element === 'string' ? document.querySelector(element) : element;
  if (!found) throw new Error(`HuifangDmn: no element ${element}`);
  return found;
}

function pageLocale(container) {
  const marked = container.closest('[data-locale]');
  return (marked && marked.dataset.locale) || document.documentElement.lang || 'en';
}

// A few tooltips dmn-js writes without translate() ("Move Input"): rewritten in place, in the dictionary's
// `fixed` section, so what a process owner hovers over is in their language too.
function localizeFixedTexts(container, words) {
  if (!words) return;
  const has = (text) => Object.prototype.hasOwnProperty.call(words, text);
  const rewrite = () => {
    container.querySelectorAll('[title], [aria-label]').forEach((element) => {
      ['title', 'aria-label'].forEach((name) => {
        const text = element.getAttribute(name);
        if (text && has(text)) element.setAttribute(name, words[text]);
      });
    });
  };
  new MutationObserver(rewrite).observe(container, {
    subtree: true, childList: true, attributes: true, attributeFilter: ['title', 'aria-label'],
  });
  rewrite();
}

// dmn-js commits what is typed into a cell 300 ms after the last key (its debounceInput service). The same
// service, with the pending commits remembered, so saveXML() can commit them first: a page that saves right
// after a keystroke saves what the owner sees.
function flushableDebounceModule(pending) {
  function debounceInput(setting) {
    return function debounced(fn) {
      if (setting === false) return fn;
      const wait = typeof setting === 'number' ? setting : 300;
      let timer = null;
      let args;
      let self;
      const entry = {
        flush() {
          if (timer === null) return;
          clearTimeout(timer);
          timer = null;
          pending.delete(entry);
          fn.apply(self, args);
        },
      };
      return function call(...given) {
        args = given;
        self = this;
        clearTimeout(timer);
        timer = setTimeout(() => entry.flush(), wait);
        pending.add(entry);
      };
    };
  }
  debounceInput.$inject = ['config.debounceInput'];
  return { debounceInput: ['factory', debounceInput] };
}

function escapeXml(text) {
  return String(text).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' }[c]));
}

class DecisionTablePage {
  constructor(container, manager, locale, missing, onChange, pendingInput) {
    this.pendingInput = pendingInput;
    this.container = container;
    this.manager = manager;
    this.locale = locale;
    this.untranslated = missing; // texts dmn-js looked up that the dictionary lacks (the browser test reads it)
    this.dirty = false;
    this.onChange = onChange;
    manager.on('viewer.created', ({ viewer }) => {
      viewer.on('commandStack.changed', () => {
        this.dirty = true;
        if (this.onChange) this.onChange(this);
      });
    });
  }

  /** The decisions that are tables: [{id, name}] (SpiffWorkflow runs a file with exactly one). */
  get decisions() {
    return this.manager.getViews().map((view) => ({ id: view.id, name: view.name || '' }));
  }

  /** The shown decision's id. */
  get decisionId() {
    const view = this.manager.getActiveView();
    return view ? view.id : null;
  }

  /** Show another decision of the file (an id from `decisions`). */
  async open(decisionId) {
    const view = this.manager.getViews().find((v) => v.id === decisionId);
    if (!view) throw new Error(`no decision table ${decisionId}`);
    await this.manager.open(view);
  }

  /** The file as it is now: Promise<{xml}> (DMN 1.3, as dmn-js writes it). */
  async saveXML(options = { format: true }) {
    [...this.pendingInput].forEach((entry) => entry.flush());
    return this.manager.saveXML(options);
  }

  markSaved() { this.dirty = false; }

  destroy() { this.manager.destroy(); }
}

async function open(Kind, element, xml, options) {
  const container = resolveContainer(element);
  container.classList.add('huifang-dmn');
  const locale = normalizeLocale(options.locale || pageLocale(container), DICTIONARIES);
  const missing = new Set();
  const translate = { translate: ['value', makeTranslate(locale, missing, DICTIONARIES)] };
  const pendingInput = new Set();
  const manager = new Kind({
    container,
    // (dmn-js replaces common.additionalModules with the view's own: the translation goes with the view)
    common: { expressionLanguages: PYTHON },
    decisionTable: { additionalModules: [translate, flushableDebounceModule(pendingInput)] },
  });
  const page = new DecisionTablePage(container, manager, locale, missing, options.onChange, pendingInput);
  if (DICTIONARIES[locale]) localizeFixedTexts(container, DICTIONARIES[locale].fixed);
  try {
    await manager.importXML(xml, { open: false });
    const views = manager.getViews();
    const wanted = views.find((view) => view.id === options.decision) || views[0];
    if (!wanted) throw new Error('the file holds no decision table');
    await manager.open(wanted);
  } catch (err) {
    const box = document.createElement('div');
    box.className = 'huifang-dmn-error';
    box.textContent = err.message;
    container.appendChild(box);
    throw err;
  }
  container.dataset.huifangDmnReady = 'true';
  return page;
}

/**
 * Edit a DMN file's decision table in `element`.
 *   options.locale    'zh' | 'en' (default: the page's data-locale / <html lang>)
 *   options.onChange  called with the page object after every edit (undo/redo too)
 *   options.decision  the decision id to show (default: the first decision table)
 * Resolves to { saveXML() → Promise<{xml}>, decisions, decisionId, open(id), dirty, markSaved(), untranslated,
 * manager (dmn-js), destroy() }; rejects (and says why in the element) when the XML cannot be shown.
 */
export function edit(element, xml, options = {}) {
  return open(TableModeler, element, xml, options);
}

/** The same, read-only. */
export function view(element, xml, options = {}) {
  return open(TableViewer, element, xml, options);
}

/**
 * A new DMN 1.3 file with one decision table (hit policy UNIQUE): one input column whose expression is
 * `input.expression` (a Python expression over the task data), one output column that sets the task-data
 * variable `output.name`, and no rules yet.
 */
export function blank({ id = 'decision', name = '', input = {}, output = {} } = {}) {
  const inputExpression = input.expression || 'value';
  const outputName = output.name || 'result';
  return `<?xml version="1.0" encoding="UTF-8"?>
<definitions xmlns="${DMN13}" id="definitions_${escapeXml(id)}" name="${escapeXml(name || id)}" namespace="http://huifang/dmn">
  <decision id="${escapeXml(id)}" name="${escapeXml(name || id)}">
    <decisionTable id="${escapeXml(id)}_table" hitPolicy="UNIQUE">
      <input id="${escapeXml(id)}_input_1" label="${escapeXml(input.label || inputExpression)}">
        <inputExpression id="${escapeXml(id)}_input_expression_1" typeRef="${escapeXml(input.typeRef || 'string')}">
          <text>${escapeXml(inputExpression)}</text>
        </inputExpression>
      </input>
      <output id="${escapeXml(id)}_output_1" label="${escapeXml(output.label || outputName)}" name="${escapeXml(outputName)}" typeRef="${escapeXml(output.typeRef || 'string')}" />
    </decisionTable>
  </decision>
</definitions>
`;
}

window.HuifangDmn = { edit, view, blank };
