// Huifang's properties: what the engine reads from a diagram, editable in the properties panel.
//   any named element  spiffworkflow:property name="name_en" (the English name, next to the name)
//   lane            spiffworkflow:property name="role"
//   user task       formJsonSchemaFilename (+ the JSON Schema itself), formUiSchemaFilename, dueAt, assignee,
//                   spiffworkflow:instructionsForEndUser
//   timer event     timeDate / timeDuration / timeCycle as a Python expression (literals quoted: "P3D")
//   script task     bpmn:script (Python, run in the sandbox)
//   business rule   spiffworkflow:calledDecisionId (the DMN decision it runs)
//   any activity    spiffworkflow:preScript / postScript
//   sequence flow   condition (Python) out of an exclusive/inclusive gateway, and "default flow"
import { CheckboxEntry, Group, SelectEntry, TextAreaEntry, TextFieldEntry, isCheckboxEntryEdited, isSelectEntryEdited,
         isTextAreaEntryEdited, isTextFieldEntryEdited } from '@bpmn-io/properties-panel';
import { useService } from 'bpmn-js-properties-panel';
import { getBusinessObject, is, isAny } from 'bpmn-js/lib/util/ModelUtil';
import { PROPS, extension, getProperty } from './extensions';

export { getProperty };
export const FORM = 'formJsonSchemaFilename';
const UI_FORM = 'formUiSchemaFilename';
const TIMER_KINDS = ['timeDate', 'timeDuration', 'timeCycle'];

// ------------------------------------------------------------------ model helpers

function ensureExtensionElements(element, bo, bpmnFactory, commandStack) {
  let ext = bo.get('extensionElements');
  if (!ext) {
    ext = bpmnFactory.create('bpmn:ExtensionElements', { values: [] });
    ext.$parent = bo;
    commandStack.execute('element.updateModdleProperties',
      { element, moddleElement: bo, properties: { extensionElements: ext } });
  }
  return ext;
}

function ensureExtension(element, bo, type, bpmnFactory, commandStack) {
  const ext = ensureExtensionElements(element, bo, bpmnFactory, commandStack);
  let item = (ext.get('values') || []).find((v) => is(v, type));
  if (!item) {
    item = bpmnFactory.create(type);
    item.$parent = ext;
    commandStack.execute('element.updateModdleProperties',
      { element, moddleElement: ext, properties: { values: [...(ext.get('values') || []), item] } });
  }
  return item;
}

function removeExtension(element, bo, item, commandStack) {
  const ext = bo.get('extensionElements');
  commandStack.execute('element.updateModdleProperties',
    { element, moddleElement: ext, properties: { values: ext.get('values').filter((v) => v !== item) } });
}

export function setProperty(element, name, value, bpmnFactory, commandStack) {
  const bo = getBusinessObject(element);
  const existing = extension(bo, PROPS);
  const found = existing && (existing.get('properties') || []).find((p) => p.get('name') === name);
  if (!value) {
    if (found) {
      const rest = existing.get('properties').filter((p) => p !== found);
      commandStack.execute('element.updateModdleProperties',
        { element, moddleElement: existing, properties: { properties: rest } });
      if (!rest.length) removeExtension(element, bo, existing, commandStack);
    }
    return;
  }
  if (found) {
    commandStack.execute('element.updateModdleProperties',
      { element, moddleElement: found, properties: { value } });
    return;
  }
  const props = ensureExtension(element, bo, PROPS, bpmnFactory, commandStack);
  const prop = bpmnFactory.create('spiffworkflow:Property', { name, value });
  prop.$parent = props;
  commandStack.execute('element.updateModdleProperties',
    { element, moddleElement: props, properties: { properties: [...(props.get('properties') || []), prop] } });
}

function getText(bo, type) {
  const item = extension(bo, type);
  return item ? item.get('value') : undefined;
}

function setText(element, type, value, bpmnFactory, commandStack) {
  const bo = getBusinessObject(element);
  const item = extension(bo, type);
  if (!value) {
    if (item) removeExtension(element, bo, item, commandStack);
    return;
  }
  const target = item || ensureExtension(element, bo, type, bpmnFactory, commandStack);
  commandStack.execute('element.updateModdleProperties', { element, moddleElement: target, properties: { value } });
}

function timerDefinition(element) {
  const bo = getBusinessObject(element);
  return (bo.get('eventDefinitions') || []).find((d) => is(d, 'bpmn:TimerEventDefinition'));
}

function timerKind(timer) {
  return timer && TIMER_KINDS.find((kind) => timer.get(kind) !== undefined);
}

// ------------------------------------------------------------------ entries

function textEntry({ id, label, description, getValue, setValue, area, validate }) {
  function Component(props) {
    const { element } = props;
    const debounce = useService('debounceInput');
    const bpmnFactory = useService('bpmnFactory');
    const commandStack = useService('commandStack');
    const translate = useService('translate');
    const common = {
      element, id, label: translate(label), description: description && translate(description), debounce,
      getValue: () => getValue(element) || '',
      setValue: (value) => setValue(element, value, bpmnFactory, commandStack),
      validate,
    };
    return area ? TextAreaEntry({ ...common, monospace: true, rows: 6 }) : TextFieldEntry(common);
  }
  return { id, component: Component, isEdited: area ? isTextAreaEntryEdited : isTextFieldEntryEdited };
}

function roleEntry(roles) {
  function Component(props) {
    const { element } = props;
    const bpmnFactory = useService('bpmnFactory');
    const commandStack = useService('commandStack');
    const translate = useService('translate');
    const current = getProperty(getBusinessObject(element), 'role') || '';
    return SelectEntry({
      element, id: 'huifang-role', label: translate('Role (who works this lane)'),
      getValue: () => current,
      setValue: (value) => setProperty(element, 'role', value, bpmnFactory, commandStack),
      getOptions: () => {
        const names = roles.includes(current) || !current ? roles : [current, ...roles];
        return [{ value: '', label: translate('— no role —') }, ...names.map((r) => ({ value: r, label: r }))];
      },
    });
  }
  return { id: 'huifang-role', component: Component, isEdited: isSelectEntryEdited };
}

function formSchemaEntry(forms) {
  // The JSON Schema of the task's form travels with the diagram (the draft's and version's "forms").
  function Component(props) {
    const { element } = props;
    const debounce = useService('debounceInput');
    const translate = useService('translate');
    const eventBus = useService('eventBus');
    const name = getProperty(getBusinessObject(element), FORM);
    if (!name) return null;
    return TextAreaEntry({
      element, id: 'huifang-form-schema', debounce, monospace: true, rows: 10,
      label: translate('Form schema (JSON Schema of {name})', { name }),
      getValue: () => (forms.get(name) === undefined ? '' : forms.text(name)),
      setValue: (value) => { forms.set(name, value); eventBus.fire('huifang.forms.changed', { name }); },
      validate: (value) => {
        const problem = forms.problem(value);
        return problem ? translate(problem.template, problem.values) : null;
      },
    });
  }
  return { id: 'huifang-form-schema', component: Component, isEdited: isTextAreaEntryEdited };
}

function timerEntries() {
  function Kind(props) {
    const { element } = props;
    const bpmnFactory = useService('bpmnFactory');
    const commandStack = useService('commandStack');
    const translate = useService('translate');
    const timer = timerDefinition(element);
    return SelectEntry({
      element, id: 'huifang-timer-kind', label: translate('Timer type'),
      getValue: () => timerKind(timer) || '',
      setValue: (kind) => {
        const old = timerKind(timer);
        const body = old ? timer.get(old).get('body') : '';
        const properties = { timeDate: undefined, timeDuration: undefined, timeCycle: undefined };
        if (kind) {
          properties[kind] = bpmnFactory.create('bpmn:FormalExpression', { body });
          properties[kind].$parent = timer;
        }
        commandStack.execute('element.updateModdleProperties', { element, moddleElement: timer, properties });
      },
      getOptions: () => [
        { value: '', label: translate('— choose —') },
        { value: 'timeDate', label: translate('Date (fires at)') },
        { value: 'timeDuration', label: translate('Duration (fires after)') },
        { value: 'timeCycle', label: translate('Cycle (repeats)') },
      ],
    });
  }
  function Expression(props) {
    const { element } = props;
    const debounce = useService('debounceInput');
    const bpmnFactory = useService('bpmnFactory');
    const commandStack = useService('commandStack');
    const translate = useService('translate');
    const timer = timerDefinition(element);
    const kind = timerKind(timer);
    if (!kind) return null;
    return TextFieldEntry({
      element, id: 'huifang-timer-expression', debounce,
      label: translate('Timer expression (Python)'),
      description: translate('Quote literals: "P3D", "2024-03-01T09:00:00+08:00"; or a task-data variable such as visit_due.'),
      getValue: () => timer.get(kind).get('body') || '',
      setValue: (value) => {
        const expression = bpmnFactory.create('bpmn:FormalExpression', { body: value || '' });
        expression.$parent = timer;
        commandStack.execute('element.updateModdleProperties',
          { element, moddleElement: timer, properties: { [kind]: expression } });
      },
    });
  }
  return [
    { id: 'huifang-timer-kind', component: Kind, isEdited: isSelectEntryEdited },
    { id: 'huifang-timer-expression', component: Expression, isEdited: isTextFieldEntryEdited },
  ];
}

function scriptEntry() {
  return textEntry({
    id: 'huifang-script', label: 'Script (Python, sandboxed)', area: true,
    description: 'Runs in the restricted sandbox: no imports, no files.',
    getValue: (element) => getBusinessObject(element).get('script'),
    setValue: (element, value, bpmnFactory, commandStack) => commandStack.execute('element.updateModdleProperties', {
      element, moddleElement: getBusinessObject(element), properties: { script: value || undefined, scriptFormat: 'python' },
    }),
  });
}

function conditionEntries(element) {
  const bo = getBusinessObject(element);
  const source = bo.get('sourceRef');
  if (!isAny(source, ['bpmn:ExclusiveGateway', 'bpmn:InclusiveGateway'])) return [];
  function Default(props) {
    const { element } = props;
    const commandStack = useService('commandStack');
    const translate = useService('translate');
    const flow = getBusinessObject(element);
    const gateway = flow.get('sourceRef');
    return CheckboxEntry({
      element, id: 'huifang-default-flow', label: translate('Default flow (taken when no condition holds)'),
      getValue: () => gateway.get('default') === flow,
      setValue: (value) => commandStack.execute('element.updateModdleProperties', {
        element, moddleElement: gateway, properties: { default: value ? flow : undefined },
      }),
    });
  }
  const entries = [{ id: 'huifang-default-flow', component: Default, isEdited: isCheckboxEntryEdited }];
  if (source.get('default') !== bo) {
    entries.push(textEntry({
      id: 'huifang-condition', label: 'Condition (Python)',
      description: 'For example: qualified == True',
      getValue: (el) => { const c = getBusinessObject(el).get('conditionExpression'); return c && c.get('body'); },
      setValue: (el, value, bpmnFactory, commandStack) => {
        let expression;
        if (value) {
          expression = bpmnFactory.create('bpmn:FormalExpression', { body: value });
          expression.$parent = getBusinessObject(el);
        }
        commandStack.execute('element.updateModdleProperties',
          { element: el, moddleElement: getBusinessObject(el), properties: { conditionExpression: expression } });
      },
    }));
  }
  return entries;
}

function propertyEntry(id, name, label, description) {
  return textEntry({
    id, label, description,
    getValue: (element) => getProperty(getBusinessObject(element), name),
    setValue: (element, value, bpmnFactory, commandStack) => setProperty(element, name, value, bpmnFactory, commandStack),
  });
}

function textExtensionEntry(id, type, label, description) {
  return textEntry({
    id, label, description, area: true,
    getValue: (element) => getText(getBusinessObject(element), type),
    setValue: (element, value, bpmnFactory, commandStack) => setText(element, type, value, bpmnFactory, commandStack),
  });
}

// The decision table a business rule task runs (spiffworkflow:calledDecisionId, as SpiffBpmnParser reads it): a
// choice among the decisions deployed beside the diagram when the page lists them ([{id, name}]), else its id.
function decisionEntry(decisions) {
  const id = 'huifang-decision';
  const type = 'spiffworkflow:CalledDecisionId';
  if (!decisions.length) {
    return textEntry({
      id, label: 'Decision table (DMN decision id)', description: 'For example: reply_deadline',
      getValue: (element) => getText(getBusinessObject(element), type),
      setValue: (element, value, bpmnFactory, commandStack) => setText(element, type, value, bpmnFactory, commandStack),
    });
  }
  function Component(props) {
    const { element } = props;
    const bpmnFactory = useService('bpmnFactory');
    const commandStack = useService('commandStack');
    const translate = useService('translate');
    const current = getText(getBusinessObject(element), type) || '';
    return SelectEntry({
      element, id, label: translate('Decision table (DMN decision id)'),
      getValue: () => current,
      setValue: (value) => setText(element, type, value, bpmnFactory, commandStack),
      getOptions: () => {
        const known = decisions.map((d) => ({ value: d.id, label: d.name ? `${d.name} (${d.id})` : d.id }));
        const listed = !current || decisions.some((d) => d.id === current);
        return [{ value: '', label: translate('— choose —') }, ...(listed ? [] : [{ value: current, label: current }]), ...known];
      },
    });
  }
  return { id, component: Component, isEdited: isSelectEntryEdited };
}

export function huifangEntries(element, { roles, forms, decisions }) {
  const entries = [];
  if (is(element, 'bpmn:Lane')) entries.push(roleEntry(roles));
  if (is(element, 'bpmn:UserTask')) {
    entries.push(propertyEntry('huifang-form', FORM, 'Form (JSON Schema file name)',
                               'For example: followup_visit.visit.schema.json'));
    entries.push(formSchemaEntry(forms));
    entries.push(propertyEntry('huifang-ui-form', UI_FORM, 'UI schema file (optional)'));
    entries.push(propertyEntry('huifang-due', 'dueAt', 'Due at (Python expression)', 'For example: visit_due'));
    entries.push(propertyEntry('huifang-assignee', 'assignee', 'Assignee (Python expression)', 'For example: visitor'));
    entries.push(textExtensionEntry('huifang-instructions', 'spiffworkflow:InstructionsForEndUser', 'Instructions'));
  }
  if (timerDefinition(element)) entries.push(...timerEntries());
  if (is(element, 'bpmn:ScriptTask')) entries.push(scriptEntry());
  if (is(element, 'bpmn:BusinessRuleTask')) entries.push(decisionEntry(decisions || []));
  if (is(element, 'bpmn:SequenceFlow')) entries.push(...conditionEntries(element));
  if (is(element, 'bpmn:Activity')) {
    entries.push(textExtensionEntry('huifang-prescript', 'spiffworkflow:PreScript', 'Pre-script (Python)'));
    entries.push(textExtensionEntry('huifang-postscript', 'spiffworkflow:PostScript', 'Post-script (Python)'));
  }
  return entries;
}

// The English name beside the name (names.js: the viewer shows it to English readers); for every element
// the panel names.
const englishName = propertyEntry('huifang-name-en', 'name_en', 'English name',
                                  'Shown to readers of the English pages; the name above is the Chinese one.');

function addEnglishName(groups) {
  const general = groups.find((group) => group.id === 'general');
  const at = general ? general.entries.findIndex((entry) => entry.id === 'name') : -1;
  if (at >= 0) general.entries.splice(at + 1, 0, englishName);
}

export default function HuifangPropertiesProvider(propertiesPanel, injector, config) {
  const options = config || {};
  this.getGroups = (element) => (groups) => {
    addEnglishName(groups);
    const entries = huifangEntries(element, {
      roles: options.roles || [], forms: options.forms, decisions: options.decisions || [],
    });
    // The generic timer group edits the same value with ISO-only hints; ours says the engine's rule.
    const kept = groups.filter((group) => !(entries.length && group.id === 'timer'));
    if (entries.length) {
      const translate = injector.get('translate');
      kept.splice(1, 0, { id: 'huifang', label: translate('Engine (Huifang)'), entries, component: Group });
    }
    return kept;
  };
  propertiesPanel.registerProvider(400, this);
}
HuifangPropertiesProvider.$inject = ['propertiesPanel', 'injector', 'config.huifang'];
