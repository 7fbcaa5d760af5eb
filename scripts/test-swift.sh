#!/usr/bin/env bash
# Builds the Swift package and runs its tests against a fresh database on the project-local
# PostgreSQL (or on the server of $DATABASE_URL when set). Test classes that need a database
# of their own create it on the same server.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT"

DATABASE_URL="$(fresh_db rota_test_swift)"
export DATABASE_URL
# The multi-process tests run the built `rota` binary; the restart test may restart the
# project-local cluster (only when DATABASE_URL points at it).
export ROTA_BINARY="$ROOT/.build/debug/rota"

swift build -j 2
# XCTest only: no Swift Testing suites exist, and its empty-run summary line would read as "0 tests"
swift test -j 2 --disable-swift-testing "$@"
