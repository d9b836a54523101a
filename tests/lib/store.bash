# SPDX-License-Identifier: Apache-2.0
# Store assertions for the functional tests (loaded by the store's bats files).

# assert_store_clean: no blob, no tree, nothing in tmp/, no index row.
assert_store_clean() {
    local s="$DIR/store"
    assert_empty_dir "$s/blobs/sha512"
    assert_empty_dir "$s/tree"
    assert_empty_dir "$s/tmp"
    if [ -f "$s/index.db" ]; then
        local n
        n=$(sqlite3 "$s/index.db" 'SELECT count(*) FROM images')
        if [ "$n" != 0 ]; then
            echo "expected no index rows, found $n" >&2
            return 1
        fi
    fi
}

# store_count: number of images in the index.
store_count() {
    sqlite3 "$DIR/store/index.db" 'SELECT count(*) FROM images'
}

# crafted KIND OUT [ARG]: a crafted tar (tests/lib/tars.py).
crafted() {
    python3 "$TESTS_LIB/tars.py" "$@"
}

# fetch_insecure ARGS...: fetch without signature checks (images here are unsigned).
fetch_insecure() {
    cap --insecure-options=image fetch "$@"
}
