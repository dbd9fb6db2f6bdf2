# SPDX-License-Identifier: MIT
# A stand-in for systemd's notification socket: binds a datagram socket at
# PATH and appends each sd_notify message it receives to LOG as one line,
# "SECONDS.micro<TAB>KEY=VALUE|KEY=VALUE" (CLOCK_MONOTONIC; newlines in the
# message become "|"). Usage: python3 notify-listen.py PATH LOG. Runs until
# killed; the test starts it in the background and kills it by pid.
import os, socket, sys, time

path, log = sys.argv[1], sys.argv[2]
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(path)
with open(log, "a", buffering=1) as out:
    out.write("%.6f\tLISTENING\n" % time.monotonic())
    while True:
        data = s.recv(4096)
        text = data.decode("utf-8", "replace").strip("\n").replace("\n", "|")
        out.write("%.6f\t%s\n" % (time.monotonic(), text))
