#!/usr/bin/env bash
# The test run behind `make test` (after lint and the lab image): every pytest suite, including
# one test per Molecule scenario (tests/lab/test_molecule.py).
set -euo pipefail
cd "$(dirname "$0")/.."
start=$(date +%s)
if [ -x scripts/start-postgres.sh ] && [ -z "${MAINT_TEST_PG_URL:-}" ]; then
  if url=$(scripts/start-postgres.sh); then
    export MAINT_TEST_PG_URL="$url"
  else
    echo "test: PostgreSQL could not be started; PostgreSQL tests will be skipped" >&2
  fi
fi
status=0
pytest -ra --durations=15 tests || status=$?
echo "make test: pytest finished in $(( $(date +%s) - start ))s with status $status"
exit $status
