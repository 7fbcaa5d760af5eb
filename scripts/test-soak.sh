#!/usr/bin/env bash
# The soak's own checks against broken histories, then a 2-minute soak (scripts/soak.py):
# real `rota worker` processes on a cluster of the soak's own, under every fault at once.
# SOAK_MINUTES overrides the length (`make soak` runs 10 minutes).
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT"

python3 scripts/test_soak_checks.py
swift build -j 2 --product rota
python3 scripts/soak.py --minutes "${SOAK_MINUTES:-2}" --rota "$ROOT/.build/debug/rota"
