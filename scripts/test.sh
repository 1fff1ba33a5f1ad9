#!/usr/bin/env bash
# Runs every test (unit tests, and integration tests against real PostgreSQL 15 nodes, the stock
# pgpool-II PCP clients and Chromium). Installs missing Debian packages first.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-prerequisites.sh --test
dotnet build PgPoolConsole.sln -c Release -v quiet -nologo
exec dotnet test PgPoolConsole.sln -c Release --no-build --logger "console;verbosity=normal" "$@"
