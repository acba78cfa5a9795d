#!/usr/bin/env bash
# Install everything Huifang needs; safe to run again (a second run does almost nothing).
#   Debian packages (as root): CJK fonts and Pango for WeasyPrint, Chromium for browser tests,
#   poppler-utils (pdftotext), PostgreSQL and Node.js/npm if they are missing.
#   .venv with requirements.txt, the front-end packages (npm, app/frontend: the modeler, instance viewer and
#   decision-table bundles, Chart.js), and the compiled translations (app/translations/*/LC_MESSAGES/*.mo).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
export DEBIAN_FRONTEND=noninteractive

log() { echo "setup: $*"; }

# ---------------------------------------------------------------- Debian packages
want=(fonts-noto-cjk chromium poppler-utils libpango-1.0-0 libpangoft2-1.0-0)
if ! command -v pg_ctlcluster >/dev/null 2>&1 || [ ! -d /etc/postgresql ]; then want+=(postgresql); fi
command -v node >/dev/null 2>&1 || want+=(nodejs)
command -v npm >/dev/null 2>&1 || want+=(npm)

missing=()
for pkg in "${want[@]}"; do
  dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -eq 0 ]; then apt=(apt-get); elif command -v sudo >/dev/null 2>&1; then apt=(sudo -E apt-get); else
    echo "setup: need root to install Debian packages: ${missing[*]}" >&2; exit 1
  fi
  log "installing Debian packages: ${missing[*]}"
  "${apt[@]}" update -qq
  "${apt[@]}" install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# ---------------------------------------------------------------- Python
if [ ! -x .venv/bin/python ]; then
  log "creating .venv"
  python3 -m venv .venv
fi
stamp=.venv/.requirements.sha256
want_hash=$(sha256sum requirements.txt | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null || true)" != "$want_hash" ]; then
  log "installing Python packages from requirements.txt"
  .venv/bin/python -m pip install -q --disable-pip-version-check -r requirements.txt
  echo "$want_hash" > "$stamp"
fi

# ---------------------------------------------------------------- front-end packages (no CDN at run time)
# bpmn-js with its properties panel, dmn-js's decision table, and Chart.js, from the npm registry (pinned in
# app/frontend/package-lock.json): bundled with esbuild into app/static/vendor/{modeler,viewer,dmn}, Chart.js copied
# to app/static/vendor/chartjs (all git-ignored). Redone only when the sources change: the stamp hashes every file
# under src/ with its name, so a new, renamed or removed source file rebuilds too.
front=app/frontend
vendor=app/static/vendor
lock_hash=$(sha256sum "$front/package-lock.json" | cut -d' ' -f1)
if [ "$(cat "$front/node_modules/.lock.sha256" 2>/dev/null || true)" != "$lock_hash" ]; then
  log "installing the front-end npm packages"
  (cd "$front" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
  echo "$lock_hash" > "$front/node_modules/.lock.sha256"
fi
build_hash=$(cd "$front" && find package-lock.json build.mjs src -type f -print0 | LC_ALL=C sort -z \
  | xargs -0 sha256sum | sha256sum | cut -d' ' -f1)
built=true
for bundle in modeler/huifang-modeler.js viewer/huifang-viewer.js dmn/huifang-dmn.js chartjs/chart.umd.min.js; do
  [ -s "$vendor/$bundle" ] || built=false
done
if [ "$(cat "$vendor/.build.sha256" 2>/dev/null || true)" != "$build_hash" ] || [ "$built" != true ]; then
  log "building the modeler, instance viewer and decision-table bundles and copying Chart.js"
  (cd "$front" && node build.mjs)
  echo "$build_hash" > "$vendor/.build.sha256"
fi

# ---------------------------------------------------------------- translations
.venv/bin/pybabel -q compile -d app/translations
log "ready"
