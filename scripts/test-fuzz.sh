#!/usr/bin/env bash
# Builds the libFuzzer harness of the C cron code (pgext/fuzz/cron_fuzz.c with
# pgext/rota_cron_core.c; clang, -fsanitize=fuzzer,address,undefined), replays every
# committed input (pgext/fuzz/seeds, pgext/fuzz/regressions), then fuzzes for
# FUZZ_SECONDS (default 60) from them and the inputs earlier runs found (.rota/fuzz/corpus).
# Exits non-zero on a finding: the input is saved under .rota/fuzz/findings; once fixed,
# commit it to pgext/fuzz/regressions/ (named after what it caught) so every run replays it.
#   scripts/test-fuzz.sh                  (make test: about a minute)
#   FUZZ_SECONDS=3600 scripts/test-fuzz.sh   (make fuzz: default 600)
# FUZZ_CC picks the compiler (default: Debian's clang, else the first on PATH).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
FUZZ="$ROOT/pgext/fuzz"
WORK="$ROOT/.rota/fuzz"
SECONDS_TO_RUN="${FUZZ_SECONDS:-60}"

CLANG=""
for c in "${FUZZ_CC:-}" /usr/bin/clang clang; do
    if [ -n "$c" ] && command -v "$c" >/dev/null; then CLANG="$c"; break; fi
done
if [ -z "$CLANG" ]; then
    echo "test-fuzz.sh: clang is missing (Debian: apt-get install clang libclang-rt-dev)" >&2
    exit 1
fi

mkdir -p "$WORK/corpus" "$WORK/findings"
echo "== build ($CLANG, libFuzzer + AddressSanitizer + UndefinedBehaviorSanitizer; warnings are errors)"
"$CLANG" -g -O1 -Wall -Wextra -Werror -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
    -I"$ROOT/pgext" "$FUZZ/cron_fuzz.c" "$ROOT/pgext/rota_cron_core.c" -o "$WORK/cron_fuzz"

OPTS=(-dict="$FUZZ/cron.dict" -max_len=400 -timeout=10 -rss_limit_mb=2048 -print_final_stats=1
      -artifact_prefix="$WORK/findings/")

echo "== replay: seeds and regressions"
shopt -s nullglob
inputs=("$FUZZ"/seeds/* "$FUZZ"/regressions/*)
shopt -u nullglob
if [ "${#inputs[@]}" -eq 0 ]; then
    echo "test-fuzz.sh: no committed inputs to replay" >&2
    exit 1
fi
"$WORK/cron_fuzz" "${OPTS[@]}" "${inputs[@]}" 2>"$WORK/replay.log" || {
    cat "$WORK/replay.log" >&2; echo "test-fuzz.sh: a committed input fails (above)" >&2; exit 1; }
echo "${#inputs[@]} inputs replayed"

echo "== fuzz for ${SECONDS_TO_RUN}s"
if ! "$WORK/cron_fuzz" "${OPTS[@]}" -max_total_time="$SECONDS_TO_RUN" \
        "$WORK/corpus" "$FUZZ/seeds" "$FUZZ/regressions" 2>"$WORK/fuzz.log"; then
    grep -E "cron_fuzz:|ERROR|SUMMARY|Test unit written" "$WORK/fuzz.log" >&2 || tail -40 "$WORK/fuzz.log" >&2
    echo "test-fuzz.sh: finding saved in $WORK/findings (full log: $WORK/fuzz.log)" >&2
    exit 1
fi
grep -E "^#[0-9]+.*(INITED|DONE)|stat::(number_of_executed_units|average_exec_per_sec|new_units_added|peak_rss_mb)" \
    "$WORK/fuzz.log"
