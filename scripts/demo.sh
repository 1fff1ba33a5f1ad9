#!/usr/bin/env bash
# Runs PgPoolConsole in the foreground on a local PostgreSQL 15 cluster (two nodes unless --nodes N)
# that it creates under .demo/ (or the folder given) on the first run and reuses afterwards.
# Ctrl-C stops it. Options: scripts/demo.sh --help.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-prerequisites.sh --demo
dotnet build src/Api -c Release -v quiet -nologo
exec dotnet src/Api/bin/Release/net10.0/pgpoolconsole.dll demo "$@"
