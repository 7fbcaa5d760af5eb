#!/usr/bin/env bash
# Installs the Debian packages `make demo` and `make test` need when they are missing:
# the PostgreSQL 15 server and headers, pgTAP and pg_prove, libpq and pkg-config, clang
# with libFuzzer (compiler-rt) for the fuzzing test, and for the observability tests
# promtool and the Prometheus server, headless Chromium, and iproute2 for the soak's network
# partition (ip netns, veth).
# As root it runs apt-get; otherwise through sudo when there is one, else it prints the
# command to run.
set -euo pipefail

PACKAGES=(postgresql-15 postgresql-contrib postgresql-server-dev-15 postgresql-15-pgtap
          libtap-parser-sourcehandler-pgtap-perl libpq-dev pkg-config make gcc python3
          clang libclang-rt-dev prometheus chromium iproute2)

missing() {
    [ -x /usr/lib/postgresql/15/bin/initdb ] || return 0
    [ -f /usr/lib/postgresql/15/lib/pgxs/src/makefiles/pgxs.mk ] || return 0
    [ -f /usr/share/postgresql/15/extension/pgtap.control ] || return 0
    command -v pg_prove >/dev/null || return 0
    pkg-config --exists libpq 2>/dev/null || return 0
    command -v python3 >/dev/null || return 0
    command -v clang >/dev/null || return 0
    compgen -G "/usr/lib/llvm-*/lib/clang/*/lib/linux/libclang_rt.fuzzer-*.a" >/dev/null || return 0
    command -v promtool >/dev/null || return 0
    command -v prometheus >/dev/null || return 0
    command -v chromium >/dev/null || return 0
    command -v ip >/dev/null || return 0
    return 1
}

missing || exit 0

if [ "$(id -u)" = 0 ]; then
    SUDO=()
elif command -v sudo >/dev/null; then
    SUDO=(sudo)
else
    echo "deps.sh: missing packages; run as root: apt-get install ${PACKAGES[*]}" >&2
    exit 1
fi
echo "deps.sh: installing ${PACKAGES[*]}"
"${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq
"${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${PACKAGES[@]}" >/dev/null
