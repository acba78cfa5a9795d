// The modeler in the app's language: bpmn-js's `translate` service, overridden with Huifang's dictionaries.
// The page says its language in a data-locale attribute (set from Flask-Babel's locale); English is bpmn-js's
// own text, so it needs no dictionary. Everything bpmn-js, diagram-js, the properties panel and our own
// entries pass through translate() is looked up here: palette, context pad, replace menu, properties groups
// and entries, the panel header's element type ("Timer Boundary Event (Non Interrupting)" is composed).
// The DMN editor's bundle passes its own dictionaries (dmn-js's texts), so neither bundle carries the other's.
import zh from './zh.json';

const DICTIONARIES = { zh };

// Element type labels of the properties panel header: an event kind, a type, "(Non Interrupting)".
function elementType(dictionary, template) {
  const types = dictionary.elementTypes;
  if (!types) return undefined;
  const match = /^(.+?)( \(Non Interrupting\))?$/.exec(template);
  const [, rest, nonInterrupting] = match;
  const suffix = nonInterrupting ? dictionary.nonInterrupting : '';
  if (types[rest]) return types[rest] + suffix;
  const space = rest.indexOf(' ');
  const kind = space > 0 && (dictionary.eventKinds || {})[rest.slice(0, space)];
  if (kind && types[rest.slice(space + 1)]) return kind + types[rest.slice(space + 1)] + suffix;
  return undefined;
}

export function normalizeLocale(locale, dictionaries = DICTIONARIES) {
  const short = String(locale || '').toLowerCase().split(/[-_]/)[0];
  return dictionaries[short] ? short : 'en';
}

// translate(template, replacements) as bpmn-js calls it. Texts the dictionary lacks stay English and are
// remembered in `missing` (the browser test asserts that nothing a process owner sees is missing).
export function makeTranslate(locale, missing, dictionaries = DICTIONARIES) {
  const dictionary = dictionaries[normalizeLocale(locale, dictionaries)];
  return function translate(template, replacements) {
    let text = template;
    if (dictionary && typeof template === 'string') {
      const found = Object.prototype.hasOwnProperty.call(dictionary.messages, template)
        ? dictionary.messages[template] : elementType(dictionary, template);
      if (found === undefined) { if (missing) missing.add(template); } else { text = found; }
    }
    const values = replacements || {};
    return String(text).replace(/{([^}]+)}/g, (whole, key) => (values[key] !== undefined ? values[key] : whole));
  };
}

// The popup menu's "N results found" is fixed English text in diagram-js (not passed through translate):
// its words are separate text nodes, rewritten in place so the menu's own rendering keeps working.
function localizeSearchCount(container, words) {
  const rewrite = () => {
    container.querySelectorAll('.djs-popup-search-count').forEach((count) => {
      count.childNodes.forEach((node) => {
        if (node.nodeType === 3 && Object.prototype.hasOwnProperty.call(words, node.data)) node.data = words[node.data];
      });
    });
  };
  new MutationObserver(rewrite).observe(container, { childList: true, subtree: true, characterData: true });
}

// diagram-js names palette tools only for screen readers (aria-label): give them the same text as a
// tooltip, so a process owner sees what a tool does before dragging it.
function paletteTooltips(eventBus, canvas) {
  eventBus.on(['palette.create', 'palette.changed'], () => {
    canvas.getContainer().querySelectorAll('.djs-palette .entry[aria-label]').forEach((entry) => {
      entry.title = entry.getAttribute('aria-label');
    });
  });
}

export function translateModule(locale, dictionaries = DICTIONARIES) {
  const lang = normalizeLocale(locale, dictionaries);
  const missing = new Set();
  function HuifangLabels(eventBus, canvas) {
    paletteTooltips(eventBus, canvas);
    if (dictionaries[lang] && dictionaries[lang].searchCount) {
      localizeSearchCount(canvas.getContainer(), dictionaries[lang].searchCount);
    }
  }
  HuifangLabels.$inject = ['eventBus', 'canvas'];
  return {
    module: {
      __init__: ['huifangLabels'],
      translate: ['value', makeTranslate(lang, missing, dictionaries)],
      huifangLabels: ['type', HuifangLabels],
    },
    locale: lang,
    missing,
  };
}
