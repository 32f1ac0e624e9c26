#!/usr/bin/env python3
"""dns-server.py - a small DNS responder for tests/configure.sh (stdlib only).

Usage: dns-server.py TABLE.json READY-FILE [ADDRESS]

Answers UDP queries on ADDRESS (default 127.0.0.1) port 53 from a table:
  { "NAME": { "SRV": [[priority, weight, port, "target"], ...],
              "A": ["127.0.0.1"], "AAAA": [],
              "rcode": "SERVFAIL" | "NXDOMAIN" | "REFUSED",
              "malformed": "truncated" | "loop" | "badrdlen" } }
A name that is not in the table is NXDOMAIN; a name that is, without the
type asked, NOERROR with no answer (NODATA). Names are compared without
case and without the final dot. Answers compress the question name (a
pointer to offset 12) so that the client's name decompression is used.
"malformed" answers are broken on purpose: truncated in the middle of a
record, a compression pointer that points at itself, or an RDLENGTH
longer than the message. Writes READY-FILE once listening; runs until
killed. Also brings the loopback interface up (a fresh network namespace
has it down).
"""
import fcntl
import json
import socket
import struct
import sys

TYPES = {1: "A", 28: "AAAA", 33: "SRV"}
RCODES = {"NOERROR": 0, "SERVFAIL": 2, "NXDOMAIN": 3, "REFUSED": 5}


def loopback_up():
    SIOCGIFFLAGS, SIOCSIFFLAGS, IFF_UP = 0x8913, 0x8914, 0x1
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        ifr = struct.pack("16sH14x", b"lo", 0)
        flags = struct.unpack("16sH14x", fcntl.ioctl(s, SIOCGIFFLAGS, ifr))[1]
        if not flags & IFF_UP:
            fcntl.ioctl(s, SIOCSIFFLAGS, struct.pack("16sH14x", b"lo", flags | IFF_UP))
    finally:
        s.close()


def encode_name(name):
    out = b""
    for label in name.rstrip(".").split("."):
        if label:
            out += bytes([len(label)]) + label.encode("ascii")
    return out + b"\0"


def parse_question(msg):
    pos, labels = 12, []
    while msg[pos]:
        n = msg[pos]
        labels.append(msg[pos + 1:pos + 1 + n].decode("ascii", "replace"))
        pos += 1 + n
    pos += 1
    qtype, qclass = struct.unpack("!HH", msg[pos:pos + 4])
    return ".".join(labels), qtype, qclass, pos + 4


def answer(table, msg):
    qid = msg[:2]
    name, qtype, _qclass, qend = parse_question(msg)
    question = msg[12:qend]
    entry = table.get(name.lower().rstrip("."))
    rcode = 3
    records = []
    malformed = None
    if entry is not None:
        rcode = RCODES[entry.get("rcode", "NOERROR")]
        malformed = entry.get("malformed")
        tname = TYPES.get(qtype)
        for data in entry.get(tname, []) if tname else []:
            if tname == "SRV":
                prio, weight, port, target = data
                rdata = struct.pack("!HHH", prio, weight, port) + encode_name(target)
            elif tname == "A":
                rdata = socket.inet_pton(socket.AF_INET, data)
            else:
                rdata = socket.inet_pton(socket.AF_INET6, data)
            # the owner name is a pointer to the question's name (offset 12)
            records.append(b"\xc0\x0c" + struct.pack("!HHIH", qtype, 1, 60, len(rdata)) + rdata)
    flags = 0x8180 | rcode            # QR, RD, RA
    head = qid + struct.pack("!HHHHH", flags, 1, len(records), 0, 0)
    out = head + question + b"".join(records)
    if malformed == "truncated":
        out = head[:6] + struct.pack("!H", 1) + head[8:] + question + b"\xc0\x0c\x00\x21"
    elif malformed == "loop":
        loop = len(head) + len(question)
        rr = struct.pack("!H", 0xc000 | loop) + struct.pack("!HHIH", 33, 1, 60, 8) + b"\0" * 8
        out = head[:6] + struct.pack("!H", 1) + head[8:] + question + rr
    elif malformed == "badrdlen":
        rr = b"\xc0\x0c" + struct.pack("!HHIH", 33, 1, 60, 4000) + b"\0\0\0\0\0\0\0"
        out = head[:6] + struct.pack("!H", 1) + head[8:] + question + rr
    return out


def main():
    table = {k.lower().rstrip("."): v for k, v in json.load(open(sys.argv[1])).items()}
    addr = sys.argv[3] if len(sys.argv) > 3 else "127.0.0.1"
    loopback_up()
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((addr, 53))
    with open(sys.argv[2] + ".tmp", "w") as f:
        f.write("ready\n")
    import os
    os.rename(sys.argv[2] + ".tmp", sys.argv[2])
    while True:
        msg, peer = s.recvfrom(4096)
        try:
            s.sendto(answer(table, msg), peer)
        except Exception as e:   # a query the table cannot answer: say so, go on
            sys.stderr.write("dns-server: %r\n" % (e,))


if __name__ == "__main__":
    main()
