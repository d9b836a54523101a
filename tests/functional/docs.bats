#!/usr/bin/env bats
# SPDX-License-Identifier: Apache-2.0
# Every command ships whole: --help, a man page, completions that know its flags.

load ../lib/common

ROOT=$(readlink -f "$BATS_TEST_DIRNAME/../..")

# subcommands PARENT_ARGS...: names listed under "Subcommands:" in --help.
subcommands() {
    "$CAPSULE" "$@" --help | awk '/^Subcommands:/ {on=1; next} on && /^  [a-z]/ {sub(/,$/, "", $1); print $1} on && /^$/ {on=0}'
}

# long_flags ARGS...: --flags of a command's --help, without the help flags themselves.
long_flags() {
    "$CAPSULE" "$@" --help | grep -oE -- '--[a-z][a-z0-9-]*' | sort -u | grep -vxE -- '--help|--help-all'
}

# man_text PAGE: the page's source with roff escapes removed.
man_text() {
    sed -e 's/\\-/-/g' -e 's/\\f[BIRP]//g' "$ROOT/man/$1"
}

@test "capsule --help lists commands and exits 0" {
    run "$CAPSULE" --help
    assert_status 0
    assert_output_contains "Subcommands:"
}

@test "every command has --help and a man page that names each of its flags" {
    local cmd flag missing=""
    for cmd in $(subcommands); do
        run "$CAPSULE" "$cmd" --help
        [ "$status" -eq 0 ] || missing+=" $cmd(--help exits $status)"
        [ -f "$ROOT/man/capsule-$cmd.1" ] || { missing+=" man/capsule-$cmd.1"; continue; }
        for flag in $(long_flags "$cmd"); do
            man_text "capsule-$cmd.1" | grep -qF -- "$flag" || missing+=" capsule-$cmd.1:$flag"
        done
        for sub in $(subcommands "$cmd"); do
            man_text "capsule-$cmd.1" | grep -qw -- "$sub" || missing+=" capsule-$cmd.1:$sub"
            for flag in $(long_flags "$cmd" "$sub"); do
                man_text "capsule-$cmd.1" | grep -qF -- "$flag" || missing+=" capsule-$cmd.1:$sub:$flag"
            done
        done
    done
    [ -z "$missing" ] || { echo "missing:$missing" >&2; return 1; }
}

@test "man pages render without warnings" {
    local page out
    for page in "$ROOT"/man/*.1; do
        out=$(LC_ALL=C.UTF-8 MANWIDTH=80 man --warnings -l "$page" 2>&1 >/dev/null)
        [ -z "$out" ] || { echo "$page: $out" >&2; return 1; }
    done
}

@test "completions know every command and flag" {
    local cmd flag file missing=""
    for file in capsule.bash _capsule capsule.fish; do
        [ -f "$ROOT/completions/$file" ] || { missing+=" completions/$file"; continue; }
        for cmd in $(subcommands); do
            grep -qw -- "$cmd" "$ROOT/completions/$file" || missing+=" $file:$cmd"
            for flag in $(long_flags "$cmd"); do
                grep -qF -- "${flag#--}" "$ROOT/completions/$file" || missing+=" $file:$cmd:$flag"
            done
        done
    done
    [ -z "$missing" ] || { echo "missing:$missing" >&2; return 1; }
}

@test "bash completion completes commands and flags" {
    run bash -c "source '$ROOT/completions/capsule.bash'
        COMP_WORDS=(capsule ver); COMP_CWORD=1; _capsule; printf '%s\n' \"\${COMPREPLY[@]}\""
    assert_status 0
    assert_output_contains "version"
    run bash -c "source '$ROOT/completions/capsule.bash'
        COMP_WORDS=(capsule version --f); COMP_CWORD=2; _capsule; printf '%s\n' \"\${COMPREPLY[@]}\""
    assert_output_contains "--format"
}

@test "zsh and fish completions parse" {
    zsh -n "$ROOT/completions/_capsule"
    fish --no-execute "$ROOT/completions/capsule.fish"
}
