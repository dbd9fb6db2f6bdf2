# SPDX-License-Identifier: MIT
# A raw control-protocol client for the integration tests: frames are a
# 4-byte big-endian length and one CBOR item [version, type, request-id,
# {body}] with proto/ctl.def numbers. Usage: python3 ctlwire.py ACTION SOCKET
# [ARGS...]; each action prints what it saw, one fact a line, for the shell
# test to compare. Independent of chutectl on purpose. fake-chuted.py
# imports its CBOR and framing (head, enc, dec, frame).
import os, select, socket, struct, sys, time

VERSION = int(os.environ.get("CTLWIRE_VERSION", "2"))
T_STATUS, T_SNAPSHOTS, T_LS, T_CAT, T_DIFF, T_VERIFY = 1, 6, 7, 8, 10, 17
T_RESULT, T_ERROR, T_PROGRESS, T_DATA = 64, 65, 66, 67
K_STATUS, K_MESSAGE, K_PATH, K_SNAPSHOT, K_OTHER = 1, 2, 3, 5, 6
K_SNAPSHOTS, K_ENTRIES, K_DATA, K_RECURSIVE, K_VERSION, K_READ_SUBSET = 17, 18, 32, 30, 38, 160


def head(major, n):
    if n < 24:
        return bytes([major << 5 | n])
    for ai, size in ((24, 1), (25, 2), (26, 4), (27, 8)):
        if n < 1 << (8 * size):
            return bytes([major << 5 | ai]) + n.to_bytes(size, "big")
    raise ValueError(n)


def enc(x):
    if x is True:
        return b"\xf5"
    if x is False:
        return b"\xf4"
    if isinstance(x, int):
        return head(0, x) if x >= 0 else head(1, -1 - x)
    if isinstance(x, bytes):
        return head(2, len(x)) + x
    if isinstance(x, str):
        return head(3, len(x.encode())) + x.encode()
    if isinstance(x, list):
        return head(4, len(x)) + b"".join(enc(i) for i in x)
    if isinstance(x, dict):
        return head(5, len(x)) + b"".join(enc(k) + enc(v) for k, v in x.items())
    raise TypeError(x)


def dec(b, i=0):
    ib = b[i]
    major, ai = ib >> 5, ib & 31
    i += 1
    if ai < 24:
        n = ai
    elif ai in (24, 25, 26, 27):
        size = 1 << (ai - 24)
        n = int.from_bytes(b[i:i + size], "big")
        i += size
    else:
        raise ValueError("indefinite or reserved length")
    if major == 0:
        return n, i
    if major == 1:
        return -1 - n, i
    if major in (2, 3):
        v = b[i:i + n]
        return (v if major == 2 else v.decode()), i + n
    if major == 4:
        out = []
        for _ in range(n):
            v, i = dec(b, i)
            out.append(v)
        return out, i
    if major == 5:
        out = {}
        for _ in range(n):
            k, i = dec(b, i)
            out[k], i = dec(b, i)
        return out, i
    if major == 7:
        return {20: False, 21: True}.get(ai), i
    raise ValueError("major %d" % major)


def frame(body):
    return struct.pack(">I", len(body)) + body


def request(typ, rid, body=None):
    return frame(enc([VERSION, typ, rid, body or {}]))


def connect(path, timeout=10):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(path)  # blocking: waits while chuted's listen backlog is full
    s.settimeout(timeout)
    return s


def recv_exact(s, n):
    buf = b""
    while len(buf) < n:
        c = s.recv(n - len(buf))
        if not c:
            raise EOFError("connection closed after %d of %d bytes" % (len(buf), n))
        buf += c
    return buf


def read_msg(s):
    """One decoded message [version, type, id, body], None at a clean EOF."""
    try:
        first = s.recv(4)
    except ConnectionResetError:
        return None
    if not first:
        return None
    hdr = first + recv_exact(s, 4 - len(first))
    (n,) = struct.unpack(">I", hdr)
    return dec(recv_exact(s, n))[0]


def send_ignoring_close(s, data):
    try:
        s.sendall(data)
    except (BrokenPipeError, ConnectionResetError):
        pass


def describe(m):
    """'ERROR id=R status=S' or 'RESULT id=R' (or 'EOF')."""
    if m is None:
        return "EOF"
    if m[1] == T_ERROR:
        return "ERROR id=%d status=%d" % (m[2], m[3].get(K_STATUS, -1))
    return "%s id=%d" % ({T_RESULT: "RESULT", T_DATA: "DATA", T_PROGRESS: "PROGRESS"}.get(m[1], str(m[1])), m[2])


def act_stranger(path):
    """Three connections: silent, garbage, a valid request (id 77); print the
    first reply of each and whether the connection was then closed."""
    for what, data in (("silent", b""), ("garbage", os.urandom(64)),
                       ("valid", request(T_STATUS, 77))):
        s = connect(path, timeout=5)
        if data:
            send_ignoring_close(s, data)
        try:
            m = read_msg(s)
            after = describe(read_msg(s)) if m is not None else "EOF"
        except socket.timeout:
            m, after = None, "timeout"
            print("%s: no reply within 5 s" % what)
            continue
        print("%s: %s, then %s" % (what, describe(m), after))
    return 0


def act_hold(path, n, seconds_for_eof):
    """Open n connections without sending anything; print how many were
    refused at once (an ERROR with request id 0 and its status), then wait up
    to seconds_for_eof for chuted to close the others ('idle-closed N after
    S s', S counted from the connects). Prints 'held' once the connections
    are open, and keeps them open from this side until killed when
    seconds_for_eof is 0. The refusals are counted CTLWIRE_SETTLE seconds (1
    by default) after the connects."""
    socks = [connect(path) for _ in range(n)]
    connected = time.monotonic()
    time.sleep(float(os.environ.get("CTLWIRE_SETTLE", "1.0")))
    refused, open_ = {}, []
    for s in socks:
        r, _, _ = select.select([s], [], [], 0)
        if r:
            m = read_msg(s)
            key = describe(m)
            refused[key] = refused.get(key, 0) + 1
            s.close()
        else:
            open_.append(s)
    print("open %d" % len(open_))
    for key, count in sorted(refused.items()):
        print("refused %d: %s" % (count, key))
    print("held")
    sys.stdout.flush()
    if seconds_for_eof == 0:
        time.sleep(3600)
        return 0
    start = time.monotonic()
    closed = 0
    pending = list(open_)
    while pending and time.monotonic() - start < seconds_for_eof:
        r, _, _ = select.select(pending, [], [], 0.2)
        for s in r:
            if read_msg(s) is None:
                closed += 1
                pending.remove(s)
    print("idle-closed %d after %.0f s" % (closed, time.monotonic() - connected))
    return 0


def act_slow_cat(path, snap_path, sleep_s):
    """Ask for cat of SNAP:PATH, read nothing for sleep_s seconds (or until
    chuted hangs up, which poll sees without reading), then read
    everything: print the bytes received and the final reply (or 'EOF after
    N bytes, silent S s' when chuted closed the connection)."""
    s = connect(path, timeout=30)
    snap, _, p = snap_path.partition(":")
    s.sendall(request(T_CAT, 5, {K_SNAPSHOT: snap, K_PATH: p.encode()}))
    start = time.monotonic()
    poller = select.poll()
    poller.register(s, select.POLLRDHUP)  # POLLHUP and POLLERR come anyway
    while time.monotonic() - start < sleep_s:
        left = sleep_s - (time.monotonic() - start)
        if any(ev & (select.POLLRDHUP | select.POLLHUP | select.POLLERR)
               for _, ev in poller.poll(max(1, int(left * 1000)))):
            break
    silent = time.monotonic() - start
    got = 0
    while True:
        try:
            m = read_msg(s)
        except (EOFError, ConnectionResetError):
            m = None  # closed mid-frame
        if m is None:
            print("EOF after %d bytes, silent %.1f s" % (got, silent))
            return 0
        if m[1] == T_DATA:
            got += len(m[3].get(K_DATA, b""))
            continue
        if m[1] in (T_RESULT, T_ERROR):
            print("%d bytes, %s" % (got, describe(m)))
            return 0


def act_snapshots(path):
    """List snapshots: print how many DATA frames, the largest frame body,
    the rows in all and the final reply."""
    s = connect(path, timeout=60)
    s.sendall(request(T_SNAPSHOTS, 9))
    frames, rows, largest = 0, 0, 0
    while True:
        hdr = recv_exact(s, 4)
        (n,) = struct.unpack(">I", hdr)
        largest = max(largest, n)
        m = dec(recv_exact(s, n))[0]
        rows += len(m[3].get(K_SNAPSHOTS, []))
        if m[1] == T_DATA:
            frames += 1
            continue
        print("data frames %d" % frames)
        print("rows %d" % rows)
        print("largest frame %d" % largest)
        print(describe(m))
        return 0


def act_ls_count(path, snap, root, req=None):
    """ls -R of snap at root (or req, another listing): print how many
    entries came, in how many DATA frames, and the final reply."""
    s = connect(path, timeout=60)
    if req is None:
        req = request(T_LS, 13, {K_SNAPSHOT: snap, K_PATH: root.encode(), K_RECURSIVE: True})
    s.sendall(req)
    frames, entries = 0, 0
    while True:
        m = read_msg(s)
        if m is None:
            print("EOF")
            return 1
        if m[1] == T_DATA:
            frames += 1
            entries += len(m[3].get(K_ENTRIES, []))
            continue
        print("entries %d" % entries)
        print("data frames %d" % frames)
        print(describe(m))
        return 0


def act_check_subset(path, subset):
    """A check (VERIFY without store) with read_data_subset as given (key
    160, unchecked here): print the final reply."""
    s = connect(path, timeout=60)
    s.sendall(request(T_VERIFY, 5, {K_READ_SUBSET: subset}))
    while True:
        m = read_msg(s)
        if m is None or m[1] in (T_RESULT, T_ERROR):
            print(describe(m))
            if m is not None and m[1] == T_ERROR:
                print(m[3].get(K_MESSAGE, ""))
            return 0


def act_stall_snapshots(path, n, seconds_for_close, req=None):
    """Open n connections, each with a small receive buffer, ask each for
    the snapshot list (or send req) and never read a byte. Prints 'held'
    once the requests are sent, then waits (without reading) up to
    seconds_for_close for chuted to close them: 'stall-closed K after S s'."""
    socks = []
    for _ in range(n):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        s.connect(path)
        s.sendall(req if req is not None else request(T_SNAPSHOTS, 11))
        socks.append(s)
    print("held")
    sys.stdout.flush()
    p = select.poll()
    for s in socks:
        p.register(s, select.POLLRDHUP | select.POLLHUP)
    start = time.monotonic()
    closed = set()
    while len(closed) < n and time.monotonic() - start < seconds_for_close:
        for fd, ev in p.poll(200):
            if ev & (select.POLLRDHUP | select.POLLHUP | select.POLLERR):
                closed.add(fd)
                p.unregister(fd)
    print("stall-closed %d after %.1f s" % (len(closed), time.monotonic() - start))
    return 0


def act_poll_status(path, out, stop, interval=0.05):
    """Every interval seconds: connect, send status, wait for its RESULT;
    append the milliseconds that took (connect included) to out, one a
    line, until the file stop exists. A failure is written as 'fail'."""
    rid = 0
    with open(out, "a") as f:
        while not os.path.exists(stop):
            rid += 1
            t0 = time.monotonic()
            try:
                s = connect(path, timeout=30)
                s.sendall(request(T_STATUS, rid))
                m = read_msg(s)
                s.close()
                ok = m is not None and m[1] == T_RESULT and m[2] == rid
            except (OSError, EOFError, ValueError):
                ok = False
            ms = (time.monotonic() - t0) * 1000
            f.write("%.2f\n" % ms if ok else "fail\n")
            f.flush()
            time.sleep(max(0.0, interval - ms / 1000))
    return 0


def act_key_import_nul(path):
    """KEY_IMPORT (13) whose CODE (36) holds a NUL and then 100 KB: print
    the reply and its message."""
    s = connect(path)
    s.sendall(request(13, 4, {36: "A\0" + "A" * 100000}))
    m = read_msg(s)
    print(describe(m))
    if m is not None and m[1] == T_ERROR:
        print(m[3].get(K_MESSAGE, ""))
    return 0


def act_flood_unread(path, seconds):
    """Send status requests as fast as chuted takes them, for up to seconds,
    never reading an answer (a small receive buffer). Prints 'closed after S
    s, K requests sent' when chuted closes the connection, or 'not closed,
    K requests sent'."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.connect(path)
    s.setblocking(False)
    p = select.poll()
    p.register(s, select.POLLRDHUP | select.POLLHUP | select.POLLERR)
    start = time.monotonic()
    pending, rid, sent = b"", 1, 0
    while time.monotonic() - start < seconds:
        if not pending:
            pending = request(T_STATUS, rid)
            rid += 1
        try:
            n = s.send(pending)
            pending = pending[n:]
            if not pending:
                sent += 1
        except BlockingIOError:
            pass
        except (BrokenPipeError, ConnectionResetError):
            break
        if p.poll(0 if pending == b"" else 10):
            break
    else:
        print("not closed, %d requests sent" % sent)
        return 0
    print("closed after %.1f s, %d requests sent" % (time.monotonic() - start, sent))
    return 0


def main():
    what, path = sys.argv[1], sys.argv[2]
    if what == "stranger":
        return act_stranger(path)
    if what == "hold":
        return act_hold(path, int(sys.argv[3]), float(sys.argv[4]))
    if what == "snapshots":
        return act_snapshots(path)
    if what == "poll-status":
        return act_poll_status(path, sys.argv[3], sys.argv[4])
    if what == "stall-snapshots":
        return act_stall_snapshots(path, int(sys.argv[3]), float(sys.argv[4]))
    if what == "stall-ls":
        # ls -R of SNAP (as typed: "latest"), the root PATH as bytes
        req = request(T_LS, 12, {K_SNAPSHOT: sys.argv[5], K_PATH: sys.argv[6].encode(), K_RECURSIVE: True})
        return act_stall_snapshots(path, int(sys.argv[3]), float(sys.argv[4]), req)
    if what == "ls-count":
        return act_ls_count(path, sys.argv[3], sys.argv[4])
    if what == "stall-diff":
        req = request(T_DIFF, 14, {K_SNAPSHOT: sys.argv[5], K_OTHER: sys.argv[6]})
        return act_stall_snapshots(path, int(sys.argv[3]), float(sys.argv[4]), req)
    if what == "diff-count":
        return act_ls_count(path, None, None, request(T_DIFF, 15, {K_SNAPSHOT: sys.argv[3], K_OTHER: sys.argv[4]}))
    if what == "check-subset":
        return act_check_subset(path, sys.argv[3])
    if what == "key-import-nul":
        return act_key_import_nul(path)
    if what == "flood-unread":
        return act_flood_unread(path, float(sys.argv[3]))
    if what == "slow-cat":
        return act_slow_cat(path, sys.argv[3], float(sys.argv[4]))
    print("unknown action", what)
    return 2


if __name__ == "__main__":
    sys.exit(main())
