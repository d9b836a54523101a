#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
# first_line.py LINE TIMEOUT CMD...: start CMD (stdin /dev/null, stdout a pipe read here, stderr
# inherited) and time, on this side, when LINE first arrives on its stdout and when CMD exits.
# Prints "SECONDS_TO_LINE SECONDS_TO_EXIT STATUS": seconds from just before the spawn ("-" for the
# first if LINE never came, or LINE is empty: then only the exit is timed), and CMD's exit status as
# a shell gives it (128 + N for signal N). Exit status 1, and nothing printed, if CMD did not end
# within TIMEOUT seconds (it is then killed with SIGKILL).
import os
import selectors
import signal
import subprocess
import sys
import time


def main():
    if len(sys.argv) < 4:
        print("usage: first_line.py LINE TIMEOUT CMD...", file=sys.stderr)
        return 2
    want = sys.argv[1].encode()
    limit = float(sys.argv[2])
    cmd = sys.argv[3:]
    t0 = time.monotonic()
    p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE)
    fd = p.stdout.fileno()
    os.set_blocking(fd, False)
    sel = selectors.DefaultSelector()
    sel.register(fd, selectors.EVENT_READ)
    buf = b""
    t_line = None
    while True:
        left = t0 + limit - time.monotonic()
        if left <= 0:
            p.send_signal(signal.SIGKILL)
            p.wait()
            print(f"first_line: {cmd[0]} did not end within {limit:g} s", file=sys.stderr)
            return 1
        if not sel.select(left):
            continue
        chunk = os.read(fd, 65536)
        now = time.monotonic()
        if not chunk:
            break
        if want and t_line is None:
            buf += chunk
            lines = buf.split(b"\n")
            # Only whole lines count.
            if any(line == want for line in lines[:-1]):
                t_line = now
            buf = lines[-1]
    status = p.wait()
    t_exit = time.monotonic()
    if status < 0:
        status = 128 - status
    print(f"{'-' if t_line is None else f'{t_line - t0:.6f}'} {t_exit - t0:.6f} {status}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
