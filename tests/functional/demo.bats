#!/usr/bin/env bats
# SPDX-License-Identifier: Apache-2.0
# make demo: the README's first command keeps working.

load ../lib/common

ROOT=$(readlink -f "$BATS_TEST_DIRNAME/../..")

@test "the demo signs, trusts, fetches and runs a busybox pod" {
    require_root
    run "$ROOT/tests/lib/demo.sh" "$(dirname "$CAPSULE")"
    assert_status 0
    assert_output_contains "signature verified for example.com/busybox"
    assert_output_contains "hello from busybox in a capsule pod"
    assert_output_contains "(the pod exited with status 3)"
    assert_output_contains "Removed pod"
}
