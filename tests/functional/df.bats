#!/usr/bin/env bats
# SPDX-License-Identifier: Apache-2.0
# capsule df: disk use, apart and totalled.

bats_require_minimum_version 1.5.0

load ../lib/common
load ../lib/store

setup() { capsule_setup; }
teardown() { capsule_teardown; }

@test "df: an empty store" {
    run cap df
    assert_status 0
    assert_output_contains "images (blobs)"
    assert_output_contains "rendered trees"
    assert_output_contains "image layers"
    assert_output_contains "pods"
    assert_output_contains "logs"
    assert_output_contains "total"
}

@test "df: --format=json counts images, trees and pods apart" {
    make_aci "$TMP/a.aci"
    fetch_insecure "$TMP/a.aci" >/dev/null
    mkdir -p "$DIR/pods/run/x"
    head -c 300000 /dev/urandom > "$DIR/pods/run/x/data"
    run --separate-stderr cap df --format=json
    assert_status 0
    python3 - "$output" <<'PY'
import json, sys
d = json.loads(sys.argv[1])
assert d["images"]["count"] == 1
assert d["images"]["bytes"] > 2000000, d
assert d["trees"]["bytes"] > 2000000, d
assert d["pods"]["bytes"] >= 300000, d
assert d["logs"]["bytes"] == 0, d
assert d["layers"]["count"] == 0, d
total = sum(d[k]["bytes"] for k in ("images", "trees", "layers", "tmp", "pods", "logs"))
assert d["total"]["bytes"] == total, d
PY
}

@test "df: bad --format" {
    run cap df --format=xml
    assert_status 254
    assert_one_line
    assert_output_contains "df: --format=xml: expected table or json"
}
