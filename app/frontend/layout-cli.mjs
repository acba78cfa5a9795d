// Lay out a BPMN file that has no diagram positions, as the modeler page does before showing it:
//   node app/frontend/layout-cli.mjs diagram.bpmn > laid-out.bpmn
// With --json, prints {"xml", "laidOut", "total", "addedPools"} (or {"xml": null} when it has a layout);
// the tests use that. Needs the npm packages of this folder (scripts/setup.sh installs them).
import { readFileSync } from 'node:fs';
import { autoLayout } from './src/layout.js';

const args = process.argv.slice(2);
const json = args.includes('--json');
const file = args.find((arg) => !arg.startsWith('--'));
const xml = readFileSync(file || 0, 'utf8');
const spiffworkflow = JSON.parse(readFileSync(new URL('./src/spiffworkflow.json', import.meta.url), 'utf8'));
const laid = await autoLayout(xml, { spiffworkflow });
if (json) process.stdout.write(JSON.stringify(laid || { xml: null }));
else process.stdout.write(laid ? laid.xml : xml);
