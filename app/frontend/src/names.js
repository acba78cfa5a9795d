// One name per language on a diagram element: the Chinese name is the element's own `name` (what the engine,
// the inbox and the diff read), other languages are spiffworkflow properties `name_<lang>` beside it:
//   <bpmn:userTask id="plan" name="制定回访计划">
//     <bpmn:extensionElements><spiffworkflow:properties>
//       <spiffworkflow:property name="name_en" value="Plan the visit" /> …
// A reader sees the name in their language, else `name`.
import { getBusinessObject } from 'bpmn-js/lib/util/ModelUtil';
import { getProperty } from './extensions';

export const BASE_LOCALE = 'zh';

export function namePropertyOf(locale) {
  return `name_${locale}`;
}

/** The element's name for a reader of `locale` ('zh', 'en'), falling back to its `name`. */
export function localizedName(businessObject, locale) {
  const own = businessObject && businessObject.get ? businessObject.get('name') : undefined;
  if (!locale || locale === BASE_LOCALE || !businessObject || !businessObject.get) return own;
  const translated = getProperty(businessObject, namePropertyOf(locale));
  return translated ? translated : own;
}

/**
 * Show every element of a bpmn-js viewer under its name in `locale`. The shown name is written into the
 * element's business object (bpmn-js draws labels from it); the original is kept, so switching back restores it.
 * Returns the ids whose shown name changed.
 */
export function showNamesIn(viewer, locale) {
  const registry = viewer.get('elementRegistry');
  const graphics = viewer.get('graphicsFactory');
  const originals = viewer.huifangOriginalNames || new Map();
  viewer.huifangOriginalNames = originals; // eslint-disable-line no-param-reassign
  const changed = [];
  const seen = new Set();
  registry.getAll().forEach((element) => {
    const bo = getBusinessObject(element);
    if (!bo || !bo.$instanceOf || seen.has(bo)) return;
    seen.add(bo);
    if (!originals.has(bo)) originals.set(bo, bo.get('name'));
    const original = originals.get(bo);
    bo.set('name', original); // the lookup below falls back to the element's own name
    const shown = localizedName(bo, locale);
    if (shown === original) return;
    bo.set('name', shown);
    changed.push(bo);
  });
  // Redraw elements whose text differs from what is drawn (after a switch back too).
  registry.getAll().forEach((element) => {
    const bo = getBusinessObject(element);
    if (!originals.has(bo)) return;
    const drawnAs = element.huifangDrawnName === undefined ? originals.get(bo) : element.huifangDrawnName;
    if (drawnAs === bo.name) return;
    const gfx = registry.getGraphics(element);
    if (!gfx) return;
    graphics.update(element.waypoints ? 'connection' : 'shape', element, gfx);
    element.huifangDrawnName = bo.name; // eslint-disable-line no-param-reassign
  });
  return changed.map((bo) => bo.id);
}
