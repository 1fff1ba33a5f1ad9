#!/usr/bin/env bash
# Runs PgPoolConsole in the foreground on a local two-node PostgreSQL 15 cluster that it creates
# under .demo/ on the first run (and reuses afterwards). Ctrl-C stops it.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-prerequisites.sh --demo
dotnet build src/Api -c Release -v quiet -nologo
exec dotnet src/Api/bin/Release/net10.0/pgpoolconsole.dll demo "$@"
