#!/usr/bin/env bash
# Installs what a fresh Debian 12 machine lacks to run the demo (--demo) or the tests (--test).
# The .NET 10 SDK is expected to be present. Safe to run again: it installs only what is missing.
set -euo pipefail

want=(postgresql-15 postgresql-client-15)
if [[ "${1:-}" == "--test" ]]; then
    # pgpool2: the stock PCP client tools the tests drive; chromium: the dashboard's browser tests;
    # libpg-query-dev: PostgreSQL's own parser, the oracle the SQL tests compare against.
    # iproute2, openssh: a second "host" (network namespace with an sshd) for the remote recovery test.
    # openjdk-17-jre-headless, libpostgresql-jdbc-java: Java applications' driver, pgjdbc.
    want+=(pgpool2 chromium libpg-query-dev iproute2 openssh-client openssh-server openjdk-17-jre-headless libpostgresql-jdbc-java)
fi

missing=()
for package in "${want[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed"; then
        missing+=("$package")
    fi
done

if ((${#missing[@]})); then
    echo "installing: ${missing[*]}"
    sudo_cmd=()
    if [[ $(id -u) -ne 0 ]]; then sudo_cmd=(sudo); fi
    "${sudo_cmd[@]}" apt-get update -qq
    DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if ! command -v dotnet >/dev/null; then
    echo "the .NET 10 SDK is required (dotnet was not found on PATH)" >&2
    exit 1
fi
