// Bundle the modeler page's script and styles into app/static/vendor/modeler, and copy Chart.js (the
// dashboards' charts) into app/static/vendor/chartjs; both folders are git-ignored. Run by
// scripts/setup.sh after `npm ci`; nothing is fetched at run time (no CDN).
import { build } from 'esbuild';
import { copyFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const out = resolve(here, '../static/vendor/modeler');
mkdirSync(out, { recursive: true });

await build({
  entryPoints: { 'huifang-modeler': resolve(here, 'src/index.js'), 'huifang-modeler-style': resolve(here, 'src/styles.css') },
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

const charts = resolve(here, '../static/vendor/chartjs');
mkdirSync(charts, { recursive: true });
for (const file of ['dist/chart.umd.min.js', 'LICENSE.md']) {
  copyFileSync(resolve(here, 'node_modules/chart.js', file), resolve(charts, file.split('/').pop()));
}
