// Bundle the pages' scripts and styles into app/static/vendor (git-ignored): the modeler (modeler/), the
// instance viewer (viewer/: bpmn-js's NavigatedViewer only) and the DMN decision-table editor (dmn/: dmn-js's
// decision table only); and copy Chart.js (the dashboards' charts) into vendor/chartjs. Run by
// scripts/setup.sh after `npm ci`; nothing is fetched at run time (no CDN).
import { build } from 'esbuild';
import { copyFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const vendor = resolve(here, '../static/vendor');

// folder → { output name: source }; each script is a self-contained IIFE that sets one global.
const BUNDLES = {
  modeler: { 'huifang-modeler': 'src/index.js', 'huifang-modeler-style': 'src/styles.css' },
  viewer: { 'huifang-viewer': 'src/viewer.js', 'huifang-viewer-style': 'src/viewer.css' },
  dmn: { 'huifang-dmn': 'src/dmn.js', 'huifang-dmn-style': 'src/dmn.css' },
};

// `node build.mjs viewer dmn` builds only those folders (while working on them); no argument builds all.
const wanted = process.argv.slice(2);
for (const name of wanted) if (!BUNDLES[name]) throw new Error(`no bundle ${name}: one of ${Object.keys(BUNDLES)}`);

for (const [folder, entries] of Object.entries(BUNDLES).filter(([name]) => !wanted.length || wanted.includes(name))) {
  const out = resolve(vendor, folder);
  mkdirSync(out, { recursive: true });
  await build({
    entryPoints: Object.fromEntries(Object.entries(entries).map(([name, source]) => [name, resolve(here, source)])),
    bundle: true,
    minify: true,
    sourcemap: false,
    format: 'iife',
    target: ['es2020'],
    outdir: out,
    loader: { '.woff': 'file', '.woff2': 'file', '.ttf': 'file', '.eot': 'file', '.svg': 'file' },
    legalComments: 'linked',
    logLevel: 'warning',
  });
  writeFileSync(resolve(out, 'BUILT'), `${new Date().toISOString()}\n`);
}

const charts = resolve(here, '../static/vendor/chartjs');
mkdirSync(charts, { recursive: true });
for (const file of ['dist/chart.umd.min.js', 'LICENSE.md']) {
  copyFileSync(resolve(here, 'node_modules/chart.js', file), resolve(charts, file.split('/').pop()));
}
