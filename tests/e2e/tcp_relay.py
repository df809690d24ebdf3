#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""stdin/stdout <-> TCP relay for QEMU's `guestfwd=...-cmd:` (one process per
guest connection), so a restrict=on guest can reach exactly one host port.
Usage: tcp_relay.py HOST PORT"""
import os
import select
import socket
import sys


def main() -> int:
    host, port = sys.argv[1], int(sys.argv[2])
    try:
        sock = socket.create_connection((host, port), timeout=10)
    except OSError:
        return 1
    sock.settimeout(None)
    fds = [0, sock.fileno()]
    while fds:
        ready, _, _ = select.select(fds, [], [], 120)
        if not ready:
            break
        if 0 in ready:
            data = os.read(0, 65536)
            if not data:
                fds.remove(0)
                sock.shutdown(socket.SHUT_WR)
            else:
                sock.sendall(data)
        if sock.fileno() in ready:
            data = sock.recv(65536)
            if not data:
                break
            os.write(1, data)
    return 0


if __name__ == "__main__":
    sys.exit(main())
