#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Runs the bats functional tests in parallel (files that share no state) and closes with
# one plain summary line: "functional: N passed, N failed".
set -uo pipefail
jobs=${BATS_JOBS:-$(nproc)}
log=$(mktemp /tmp/capsule-functional.XXXXXX)
trap 'rm -f "$log"' EXIT
bats --jobs "$jobs" --no-parallelize-within-files "${@:-tests/functional}" | tee "$log"
rc=${PIPESTATUS[0]}
passed=$(grep -c '^ok ' "$log")
failed=$(grep -c '^not ok ' "$log")
echo "functional: $passed passed, $failed failed"
if [ "$rc" -eq 0 ] && [ "$failed" -ne 0 ]; then rc=1; fi
exit "$rc"
