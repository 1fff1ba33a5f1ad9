#!/usr/bin/env bash
# Runs every test (unit tests, and integration tests against real PostgreSQL 15 nodes, the stock
# pgpool-II PCP clients and Chromium). Installs missing Debian packages first.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-prerequisites.sh --test
dotnet build PgPoolConsole.sln -c Release -v quiet -nologo

# The console log runs to thousands of lines; a failure in the middle of it is repeated at the end,
# where a CI tail shows it.
output=$(mktemp -t pgpoolconsole-test.XXXXXX)
trap 'rm -f "$output"' EXIT
status=0
dotnet test PgPoolConsole.sln -c Release --no-build --logger "console;verbosity=normal" "$@" 2>&1 | tee "$output" || status=$?
if [ "$status" -ne 0 ]; then
    echo
    echo "=== failed tests (repeated from above) ==="
    awk '
        /^  Failed / { shown = 0; capturing = 1 }
        capturing && (/^  (Passed|Skipped) / || /^\[xUnit/) { capturing = 0 }
        capturing && shown < 60 { print; shown++ }
    ' "$output"
fi
exit "$status"
