#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# A hostile S3 service for s3-endless.sh: every request is answered 403
# with an error body that never ends (chunked, 4 KiB every 10 ms, up to
# 8 MiB), the XML of an AccessDenied first. For each connection one line
# goes to LOG when it ends: "closed-by-client BYTES" when the client hung up
# mid-body, "ended BYTES" when the 8 MiB went out.
# With MODE "ok", every request is answered 200 that way instead (a
# success whose body never ends).
# usage: s3-endless.py PORTFILE LOG [MODE]
import os, socket, sys, threading, time

LIMIT = 8 * 1024 * 1024
HEAD = (b"HTTP/1.1 403 Forbidden\r\nContent-Type: application/xml\r\n"
        b"Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n")
XML = (b"<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>AccessDenied</Code>"
       b"<Message>endless</Message><Padding>")

def chunk(data):
    return b"%x\r\n" % len(data) + data + b"\r\n"

OK = len(sys.argv) > 3 and sys.argv[3] == "ok"
if OK:
    HEAD = (b"HTTP/1.1 200 OK\r\nContent-Type: application/xml\r\n"
            b"Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n")
    XML = b"<?xml version=\"1.0\" encoding=\"UTF-8\"?><Padding>"

def serve(conn, log):
    sent = 0
    try:
        conn.settimeout(30)
        req = b""
        while b"\r\n\r\n" not in req:
            more = conn.recv(65536)
            if not more:
                return
            req += more
        conn.sendall(HEAD + chunk(XML))
        sent = len(XML)
        pad = b"x" * 4096
        while sent < LIMIT:
            conn.sendall(chunk(pad))
            sent += len(pad)
            time.sleep(0.01)
        conn.sendall(b"0\r\n\r\n")
        line = "ended %d\n" % sent
    except OSError:
        line = "closed-by-client %d\n" % sent
    finally:
        conn.close()
    with open(log, "a") as f:
        f.write(line)

def main():
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", 0))
    s.listen(16)
    with open(sys.argv[1] + ".tmp", "w") as f:
        f.write("%d\n" % s.getsockname()[1])
    os.rename(sys.argv[1] + ".tmp", sys.argv[1])
    while True:
        conn, _ = s.accept()
        threading.Thread(target=serve, args=(conn, sys.argv[2]), daemon=True).start()

main()
