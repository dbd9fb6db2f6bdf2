#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# A scripted stand-in for chuted's control socket, to check how chutectl
# copes with well-formed, odd and hostile replies. Usage:
#   fake-chuted.py SOCKET SCENARIO-FILE
# For each connection it reads the scenario name from SCENARIO-FILE and
# answers every request with that scenario's frames. Plain python3, with
# the CBOR and framing of ctlwire.py (docs/protocol.md).
import os
import socket
import struct
import sys

from ctlwire import dec, enc, frame  # same directory: CBOR and framing

RESULT, ERROR, PROGRESS, DATA = 64, 65, 66, 67
K = dict(status=1, message=2, path=3, id=7, time=8, root=9, files=13, bytes=14,
         new_bytes=15, snapshots=17, entries=18, kind=20, mode=21, size=27,
         offset=31, data=32, phase=33, done=34, total=35, version=38, state=45, uptime=63,
         snapshot_count=69)


def msg(typ, reqid, body):
    return frame(enc([2, typ, reqid, {K[k]: v for k, v in body.items()}]))


def snap(id_byte, root):
    return {K["id"]: bytes([id_byte]) * 32, K["time"]: 1795300201123456789, K["root"]: root,
            K["files"]: 3, K["bytes"]: 5000, K["new_bytes"]: 100}


def entry(name):
    return {K["path"]: name, K["kind"]: "file", K["mode"]: 0o644, K["size"]: 1}


def answer(scenario, typ, reqid):
    r = reqid
    if scenario == "huge":
        return struct.pack(">I", 2 << 20) + b"\0" * 64
    if scenario == "garbage":
        return frame(b"\xff\xfe\xfd\xfc\xfb")
    if scenario == "declared":  # a byte string claiming 2 GiB inside a small frame
        return frame(b"\x84\x01\x18\x40" + enc(r) + b"\xa1\x03\x5a\x7f\xff\xff\xff" + b"x" * 8)
    if scenario == "trailing":
        return frame(enc([1, RESULT, r, {}]) + b"\x00")
    if scenario == "reqid":
        return msg(RESULT, r + 1, {})
    if scenario == "error":
        return msg(ERROR, r, {"status": 2, "message": "no such thing\x1b[31m"})
    if scenario == "eof":
        return b""
    if scenario == "half":
        return msg(RESULT, r, {})[:-2]
    if scenario == "notreply":
        return msg(1, r, {})
    if scenario == "wrongtype":
        return msg(RESULT, r, {"files": "three"})
    if scenario == "progress":
        return (msg(PROGRESS, r, {"phase": "scanning", "done": 5, "total": 10}) +
                msg(RESULT, r, {"version": "9.9", "state": "idle", "uptime": 5}))
    if scenario == "catok":
        return (msg(DATA, r, {"offset": 0, "data": b"abc"}) +
                msg(DATA, r, {"offset": 3, "data": b"\x00\xff\n"}) + msg(RESULT, r, {"size": 6}))
    if scenario == "catgap":
        return (msg(DATA, r, {"offset": 0, "data": b"abc"}) +
                msg(DATA, r, {"offset": 5, "data": b"def"}) + msg(RESULT, r, {"size": 8}))
    if scenario == "catshort":
        return msg(DATA, r, {"offset": 0, "data": b"abc"}) + msg(RESULT, r, {"size": 10})
    if scenario == "catbig":  # 8 MiB in 512 KiB pieces, for a reader that leaves early
        piece = b"y" * (512 << 10)
        return b"".join(msg(DATA, r, {"offset": i * len(piece), "data": piece})
                        for i in range(16)) + msg(RESULT, r, {"size": 16 * len(piece)})
    if scenario == "snapshots":
        # the list streams in DATA; a RESULT carrying rows is read too
        return (msg(DATA, r, {"snapshots": [snap(0xab, b"/r\xff")]}) +
                msg(RESULT, r, {"snapshots": [snap(0xcd, b"/ok")]}))
    if scenario == "ls":
        return (msg(DATA, r, {"entries": [entry(b"a"), entry(b"b\xfe")]}) +
                msg(DATA, r, {"entries": [entry(b"c")]}) + msg(RESULT, r, {}))
    if scenario == "lsdata":  # DATA where a listing is expected, without entries
        return msg(DATA, r, {"offset": 0, "data": b"x"}) + msg(RESULT, r, {})
    raise ValueError(scenario)


def serve(sock_path, scenario_file):
    try:
        os.unlink(sock_path)
    except FileNotFoundError:
        pass
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    # bind under a temporary name and rename once listening: the test waits
    # for the path to appear, and a connect between bind and listen is refused
    tmp = sock_path + ".tmp"
    try:
        os.unlink(tmp)
    except FileNotFoundError:
        pass
    s.bind(tmp)
    s.listen(8)
    os.rename(tmp, sock_path)
    while True:
        conn, _ = s.accept()
        with conn:
            with open(scenario_file) as f:
                scenario = f.read().strip()
            try:
                while True:
                    hdr = conn.recv(4, socket.MSG_WAITALL)
                    if len(hdr) < 4:
                        break
                    (n,) = struct.unpack(">I", hdr)
                    body = conn.recv(n, socket.MSG_WAITALL)
                    req, _ = dec(body)
                    out = answer(scenario, req[1], req[2])
                    if out:
                        conn.sendall(out)
                    if not out or scenario in ("half", "huge"):
                        break
            except (BrokenPipeError, ConnectionResetError):
                pass
            except Exception as e:  # a broken scenario must not stop the server
                print(f"fake-chuted: {scenario}: {e!r}", file=sys.stderr)


if __name__ == "__main__":
    serve(sys.argv[1], sys.argv[2])
