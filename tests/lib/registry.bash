# SPDX-License-Identifier: Apache-2.0
# A real Docker registry (Debian's docker-registry, distribution 2.8) on 127.0.0.1 for the
# functional tests, one per bats file, with storage in a temp dir, TLS from a test CA
# (tests/lib/https.bash) and htpasswd (bcrypt) or token authentication.
# Load after tests/lib/common.bash and tests/lib/https.bash.
#
#   registry_start [tls|plain] [htpasswd|token|none]
#                          start one (in setup_file); sets and exports
#                            REGISTRY        127.0.0.1:PORT
#                            REGISTRY_CA     the test CA (give it to capsule as SSL_CERT_FILE)
#                            REGISTRY_USER, REGISTRY_PASS   the one account
#                            REGISTRY_STATE  its temp dir; REGISTRY_STORAGE its storage root
#                            REGISTRY_PID    its process; TOKEN_PID, TOKEN_LOG for token auth
#   registry_stop          kill what every registry_start started, by PID, and remove their dirs
#   registry_push SRC NAME:TAG     skopeo copy of SRC (oci:DIR:TAG, …) to the registry
#   registry_push_raw DIR[:TAG] NAME:TAG   push an OCI layout byte for byte (registry_push.py):
#                                  crafted media types and nested indexes stay as they are
#   registry_blob_file DIGEST      the file holding a blob in the registry's storage
#   registry_auth_d CONFIG_DIR [USER PASS]  a dockerAuth file for $REGISTRY in CONFIG_DIR/auth.d
#   registry_docker_config HOME [USER PASS] $HOME/.docker/config.json naming $REGISTRY
#   registry_fake_start ARGS...    tests/lib/registry_fake.py (plain http) on a free port;
#                                  sets FAKE_REGISTRY (127.0.0.1:PORT), FAKE_PID, FAKE_LOG
#   registry_fake_stop

REGISTRY_USER=capsule-user
REGISTRY_PASS='s3cret pass:word'

registry_start() {
    local mode=${1:-tls} auth=${2:-htpasswd}
    command -v docker-registry > /dev/null || {
        echo "docker-registry is missing (package docker-registry)" >&2
        return 1
    }
    REGISTRY_STATE=$(mktemp -d "${BATS_FILE_TMPDIR:-${TMPDIR:-/tmp}}/registry.XXXXXX")
    REGISTRY_STORAGE=$REGISTRY_STATE/storage
    https_ca_setup "$REGISTRY_STATE/ca" > /dev/null
    REGISTRY_CA=$TEST_CA
    local cfg=$REGISTRY_STATE/config.yml
    cat > "$cfg" << EOF
version: 0.1
log:
  level: info
  accesslog:
    disabled: false
storage:
  filesystem:
    rootdirectory: $REGISTRY_STORAGE
  delete:
    enabled: true
  maintenance:
    uploadpurging:
      enabled: false
http:
  addr: 127.0.0.1:0
  secret: capsule-test-secret
EOF
    if [ "$mode" = tls ]; then
        cat >> "$cfg" << EOF
  tls:
    certificate: $REGISTRY_STATE/ca/server.pem
    key: $REGISTRY_STATE/ca/server.key
EOF
    fi
    case "$auth" in
        htpasswd)
            htpasswd -Bbn "$REGISTRY_USER" "$REGISTRY_PASS" > "$REGISTRY_STATE/htpasswd"
            cat >> "$cfg" << EOF
auth:
  htpasswd:
    realm: capsule-test
    path: $REGISTRY_STATE/htpasswd
EOF
            ;;
        token)
            _registry_token_start || return 1
            cat >> "$cfg" << EOF
auth:
  token:
    realm: https://127.0.0.1:$TOKEN_PORT/token
    service: capsule-test-registry
    issuer: capsule-test-issuer
    rootcertbundle: $REGISTRY_CA
EOF
            ;;
        none) ;;
        *)
            echo "registry_start: unknown auth $auth" >&2
            return 1
            ;;
    esac
    # A clean environment: distribution reads REGISTRY_* variables as configuration.
    env -i PATH="$PATH" docker-registry serve "$cfg" > "$REGISTRY_STATE/registry.log" 2>&1 &
    REGISTRY_PID=$!
    _registry_started "$REGISTRY_PID"
    local i port=
    for i in $(seq 200); do
        port=$(sed -n 's/.*msg="listening on 127.0.0.1:\([0-9]*\).*/\1/p' "$REGISTRY_STATE/registry.log" | head -1)
        [ -n "$port" ] && break
        if ! kill -0 "$REGISTRY_PID" 2> /dev/null; then
            echo "docker-registry failed to start:" >&2
            cat "$REGISTRY_STATE/registry.log" >&2
            return 1
        fi
        sleep 0.05
    done
    [ -n "$port" ] || {
        echo "docker-registry did not say where it listens:" >&2
        cat "$REGISTRY_STATE/registry.log" >&2
        return 1
    }
    REGISTRY=127.0.0.1:$port
    REGISTRY_TLS=$mode
    export REGISTRY REGISTRY_CA REGISTRY_USER REGISTRY_PASS REGISTRY_STATE REGISTRY_STORAGE REGISTRY_PID REGISTRY_TLS
}

# The token server for `auth: token`: a certificate of the test CA signs the tokens (the
# registry trusts the CA as its rootcertbundle; the token carries the certificate as x5c).
_registry_token_start() {
    local d=$REGISTRY_STATE/ca
    openssl req -new -newkey rsa:2048 -nodes -subj "/CN=capsule test token signer" \
        -keyout "$d/token.key" -out "$d/token.csr" 2> /dev/null
    openssl x509 -req -in "$d/token.csr" -CA "$d/ca.pem" -CAkey "$d/ca.key" -CAcreateserial \
        -days 2 -out "$d/token.pem" 2> /dev/null
    TOKEN_LOG=$REGISTRY_STATE/token.log
    : > "$TOKEN_LOG"
    python3 "$TESTS_LIB/registry_token.py" --port-file "$REGISTRY_STATE/token.port" --log "$TOKEN_LOG" \
        --cert "$d/server.pem" --key "$d/server.key" --sign-cert "$d/token.pem" --sign-key "$d/token.key" \
        --issuer capsule-test-issuer --service capsule-test-registry \
        --user "$REGISTRY_USER" --password "$REGISTRY_PASS" > "$REGISTRY_STATE/token.out" 2>&1 &
    TOKEN_PID=$!
    _registry_started "$TOKEN_PID"
    wait_for_port_file "$TOKEN_PID" "$REGISTRY_STATE/token.port" "$REGISTRY_STATE/token.out" "token server" || return 1
    TOKEN_PORT=$(cat "$REGISTRY_STATE/token.port")
    export TOKEN_PID TOKEN_LOG TOKEN_PORT
}

# Every process registry_start started (several registries may run at once), and its dir.
_registry_pids_file() {
    echo "${BATS_FILE_TMPDIR:-${TMPDIR:-/tmp}}/registry-processes"
}
_registry_started() {
    echo "$1 $REGISTRY_STATE" >> "$(_registry_pids_file)"
}

registry_stop() {
    local f p state
    f=$(_registry_pids_file)
    [ -f "$f" ] || return 0
    while read -r p state; do
        kill "$p" 2> /dev/null || true
        wait "$p" 2> /dev/null || true
        rm -rf "$state"
    done < "$f"
    rm -f "$f"
    REGISTRY_PID= TOKEN_PID= REGISTRY_STATE=
}

# registry_push SRC NAME:TAG [SKOPEO_ARGS...]
registry_push() {
    local src=$1 dest=$2
    shift 2
    skopeo copy --quiet --dest-tls-verify=false --dest-creds "$REGISTRY_USER:$REGISTRY_PASS" "$@" \
        "$src" "docker://$REGISTRY/$dest"
}

# registry_push_raw DIR[:TAG] NAME:TAG
registry_push_raw() {
    local tls=(--ca "$REGISTRY_CA")
    [ "${REGISTRY_TLS:-tls}" = plain ] && tls=(--plain)
    python3 "$TESTS_LIB/registry_push.py" --registry "$REGISTRY" "${tls[@]}" \
        --user "$REGISTRY_USER" --password "$REGISTRY_PASS" "$1" "$2"
}

# registry_blob_file DIGEST
registry_blob_file() {
    local hex=${1#sha256:}
    echo "$REGISTRY_STORAGE/docker/registry/v2/blobs/sha256/${hex:0:2}/$hex/data"
}

# registry_auth_d CONFIG_DIR [USER PASS]
registry_auth_d() {
    mkdir -p "$1/auth.d"
    python3 - "$1/auth.d/registry.json" "$REGISTRY" "${2:-$REGISTRY_USER}" "${3:-$REGISTRY_PASS}" << 'EOP'
import json, sys
json.dump({"rktKind": "dockerAuth", "rktVersion": "v1", "registries": [sys.argv[2]],
           "credentials": {"user": sys.argv[3], "password": sys.argv[4]}}, open(sys.argv[1], "w"))
EOP
}

# registry_docker_config HOME [USER PASS]
registry_docker_config() {
    mkdir -p "$1/.docker"
    python3 - "$1/.docker/config.json" "$REGISTRY" "${2:-$REGISTRY_USER}" "${3:-$REGISTRY_PASS}" << 'EOP'
import base64, json, sys
auth = base64.b64encode((sys.argv[3] + ":" + sys.argv[4]).encode()).decode()
json.dump({"auths": {sys.argv[2]: {"auth": auth}}}, open(sys.argv[1], "w"))
EOP
}

registry_fake_start() {
    local state
    state=$(mktemp -d "${TMP:-${BATS_FILE_TMPDIR:-/tmp}}/fake-registry.XXXXXX")
    FAKE_LOG=$state/requests.log
    : > "$FAKE_LOG"
    python3 "$TESTS_LIB/registry_fake.py" --port-file "$state/port" --log "$FAKE_LOG" "$@" \
        > "$state/server.out" 2>&1 &
    FAKE_PID=$!
    wait_for_port_file "$FAKE_PID" "$state/port" "$state/server.out" "fake registry" || return 1
    FAKE_REGISTRY=127.0.0.1:$(cat "$state/port")
    export FAKE_REGISTRY FAKE_PID FAKE_LOG
}

registry_fake_stop() {
    if [ -n "${FAKE_PID:-}" ]; then
        kill "$FAKE_PID" 2> /dev/null || true
        wait "$FAKE_PID" 2> /dev/null || true
        FAKE_PID=
    fi
}
