#!/usr/bin/env bash
# Install everything Huifang needs; safe to run again (a second run does almost nothing).
#   Debian packages (as root): CJK fonts and Pango for WeasyPrint, Chromium for browser tests,
#   poppler-utils (pdftotext), PostgreSQL and Node.js/npm if they are missing.
#   .venv with requirements.txt, and the compiled translations (app/translations/*/LC_MESSAGES/*.mo).
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

# ---------------------------------------------------------------- Chart.js for the dashboards (no CDN: served by the app)
CHARTJS_VERSION=4.5.1
chartjs=app/static/vendor/chartjs
if [ "$(cat "$chartjs/VERSION" 2>/dev/null || true)" != "$CHARTJS_VERSION" ]; then
  log "installing chart.js $CHARTJS_VERSION from the npm registry"
  tmp=$(mktemp -d)
  npm install --no-audit --no-fund --silent --prefix "$tmp" "chart.js@$CHARTJS_VERSION" >/dev/null
  mkdir -p "$chartjs"
  cp "$tmp/node_modules/chart.js/dist/chart.umd.min.js" "$tmp/node_modules/chart.js/LICENSE.md" "$chartjs/"
  echo "$CHARTJS_VERSION" > "$chartjs/VERSION"
  rm -rf "$tmp"
fi

# ---------------------------------------------------------------- translations
.venv/bin/pybabel -q compile -d app/translations
log "ready"
