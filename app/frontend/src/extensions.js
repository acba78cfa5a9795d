// Reading Huifang's spiffworkflow: extensions from a business object, without the properties panel (the
// instance viewer's bundle uses this too, so it stays free of the panel's code).
import { is } from 'bpmn-js/lib/util/ModelUtil';

export const PROPS = 'spiffworkflow:Properties';

/** The element's first extension element of `type` (e.g. 'spiffworkflow:Properties'), or undefined. */
export function extension(bo, type) {
  const ext = bo.get('extensionElements');
  return ext ? (ext.get('values') || []).find((v) => is(v, type)) : undefined;
}

/** The value of <spiffworkflow:property name="…">, or undefined. */
export function getProperty(bo, name) {
  const props = extension(bo, PROPS);
  const prop = props && (props.get('properties') || []).find((p) => p.get('name') === name);
  return prop ? prop.get('value') : undefined;
}
