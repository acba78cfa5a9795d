#!/usr/bin/env bash
# Run the whole test suite on SQLite and PostgreSQL. Arguments go to pytest.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/setup.sh || { echo "test.sh: setup failed"; exit 1; }

# PostgreSQL: the tests create (and drop) their own databases on $HUIFANG_TEST_PG.
if ! pg_isready -q -h 127.0.0.1; then
  echo "test.sh: starting PostgreSQL"
  for version in $(ls /etc/postgresql); do
    pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
  done
  for _ in $(seq 1 60); do
    pg_isready -q -h 127.0.0.1 && break
    sleep 1
  done
  pg_isready -h 127.0.0.1 || { echo "test.sh: PostgreSQL did not start"; exit 1; }
fi

.venv/bin/python -m pytest -q -p no:cacheprovider --timeout=600 tests "$@"
status=$?
if [ $status -eq 5 ]; then
  echo "test.sh: FAILED — pytest collected no tests"
  exit 1
elif [ $status -ne 0 ]; then
  echo "test.sh: FAILED (pytest exit code $status)"
  exit $status
fi
echo "test.sh: all tests passed"
