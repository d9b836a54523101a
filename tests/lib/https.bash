# SPDX-License-Identifier: Apache-2.0
# An HTTPS (or plain http) file server on 127.0.0.1 for the functional tests
# (tests/lib/https_server.py), with a test CA made by openssl.
#
#   https_ca_setup DIR      a CA ($DIR/ca.pem) and a server certificate for 127.0.0.1 and
#                           localhost ($DIR/server.pem, server.key), and one for other.example
#                           ($DIR/other.pem, other.key); sets TEST_CA
#   https_start ROOT [plain|other]  serve ROOT (other: with the other.example certificate); sets HTTPS_PID, HTTPS_PORT, HTTPS_LOG, HTTPS_URL
#                           (/auth/PATH accepts the Authorization values in HTTPS_AUTH, an array;
#                           HTTPS_BIND_PORT, if set, is the port to listen on instead of any free one)
#   https_stop              kill the server by its PID
#   https_requests          the request log, one "METHOD PATH if-none-match=… authorization=…" per line

https_ca_setup() {
    local d=$1
    mkdir -p "$d"
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
        -subj "/CN=capsule test CA" -keyout "$d/ca.key" -out "$d/ca.pem" 2> /dev/null
    openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
        -subj "/CN=127.0.0.1" -keyout "$d/server.key" -out "$d/server.csr" 2> /dev/null
    printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\n' > "$d/ext.cnf"
    openssl x509 -req -in "$d/server.csr" -CA "$d/ca.pem" -CAkey "$d/ca.key" -CAcreateserial \
        -days 2 -extfile "$d/ext.cnf" -out "$d/server.pem" 2> /dev/null
    # A certificate the same CA issued for another host.
    openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
        -subj "/CN=other.example" -keyout "$d/other.key" -out "$d/other.csr" 2> /dev/null
    printf 'subjectAltName=DNS:other.example\n' > "$d/other.cnf"
    openssl x509 -req -in "$d/other.csr" -CA "$d/ca.pem" -CAkey "$d/ca.key" -CAcreateserial \
        -days 2 -extfile "$d/other.cnf" -out "$d/other.pem" 2> /dev/null
    TEST_CA="$d/ca.pem"
    export TEST_CA
}

https_start() {
    local root=$1 mode=${2:-tls} state
    state=$(mktemp -d "$TMP/https.XXXXXX")
    HTTPS_LOG="$state/requests.log"
    : > "$HTTPS_LOG"
    local tls=(--cert "$(dirname "$TEST_CA")/server.pem" --key "$(dirname "$TEST_CA")/server.key")
    local scheme=https
    if [ "$mode" = plain ]; then
        tls=()
        scheme=http
    elif [ "$mode" = other ]; then
        tls=(--cert "$(dirname "$TEST_CA")/other.pem" --key "$(dirname "$TEST_CA")/other.key")
    fi
    local auth=() a
    for a in "${HTTPS_AUTH[@]}"; do
        auth+=(--auth "$a")
    done
    python3 "$TESTS_LIB/https_server.py" --root "$root" --port-file "$state/port" --log "$HTTPS_LOG" \
        --port "${HTTPS_BIND_PORT:-0}" "${tls[@]}" "${auth[@]}" > "$state/server.out" 2>&1 &
    HTTPS_PID=$!
    wait_for_port_file "$HTTPS_PID" "$state/port" "$state/server.out" "https server" || return 1
    HTTPS_PORT=$(cat "$state/port")
    # Listening once the port is written; check that it answers all the same.
    local i
    for i in $(seq 100); do
        if (exec 3<> "/dev/tcp/127.0.0.1/$HTTPS_PORT") 2> /dev/null; then
            break
        fi
        sleep 0.05
    done
    HTTPS_URL="$scheme://127.0.0.1:$HTTPS_PORT"
    export HTTPS_PID HTTPS_PORT HTTPS_LOG HTTPS_URL
}

https_stop() {
    if [ -n "${HTTPS_PID:-}" ]; then
        kill "$HTTPS_PID" 2> /dev/null || true
        wait "$HTTPS_PID" 2> /dev/null || true
        HTTPS_PID=
    fi
}

https_requests() {
    cat "$HTTPS_LOG"
}

# requests PATTERN: how many logged requests match the extended regex PATTERN.
requests() {
    grep -cE "$1" "$HTTPS_LOG" || true
}
