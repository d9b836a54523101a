# SPDX-License-Identifier: Apache-2.0
# notify_listen.py SOCKET OUT [MARKER]: a unix datagram socket at SOCKET (mode 0666), as stage0
# makes <pod>/notify; each datagram received is appended to OUT as one line (its newlines as
# "|"), followed by " marker=yes" or " marker=no" when MARKER (a file) exists at that moment.
# Ends on SIGTERM, or after 60 s without a datagram.
import os
import signal
import socket
import sys

path, out = sys.argv[1], sys.argv[2]
marker = sys.argv[3] if len(sys.argv) > 3 else None
signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
out = os.path.abspath(out)
marker = marker and os.path.abspath(marker)
# Relative to its directory: a test's path may not fit in a sockaddr_un.
os.chdir(os.path.dirname(path))
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(os.path.basename(path))
os.chmod(os.path.basename(path), 0o666)
s.settimeout(60)
with open(out, "a", buffering=1) as f:
    while True:
        try:
            data = s.recv(65536)
        except socket.timeout:
            break
        line = data.decode(errors="replace").strip("\n").replace("\n", "|")
        if marker:
            line += " marker=" + ("yes" if os.path.exists(marker) else "no")
        f.write(line + "\n")
