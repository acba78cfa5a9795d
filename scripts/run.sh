#!/usr/bin/env bash
# Run Huifang locally: install what is needed, migrate, load demo data, serve on 127.0.0.1:5000.
# Arguments go to run.py (e.g. --port 8080, --no-demo).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/setup.sh
exec .venv/bin/python run.py "$@"
