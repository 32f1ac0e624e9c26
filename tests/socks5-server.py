#!/usr/bin/env python3
"""A small scripted SOCKS5 server (RFC 1928, RFC 1929) for the data cases.

It listens on 127.0.0.1 (port 0, or the socket passed with --listen-fd),
writes its port to --port-file (atomically), and serves every client the
same way, as the script says. Everything a client asks is written to the
events file, one line per fact, before the server answers it, so that a
case can check that a host NAME was asked for (not an address resolved
by the client):

    connection
    methods 00 02                  the methods offered (hex)
    auth USER ok|refused           RFC 1929 (the password is never logged)
    connect domain NAME port N     or: connect ipv4 ADDR port N,
                                       connect ipv6 ADDR port N
    reply N                        the REP sent (0: relaying from here on)

Script directives (one per line, "#" starts a comment):

    user NAME PASSWORD   authentication required: method 02 is chosen
                         (0xFF when the client does not offer it), and only
                         these credentials are accepted
    auth-fail            every username/password is refused (status 1)
    method HEX           answer the greeting with this method byte
    map NAME HOST        a CONNECT to the domain NAME goes to HOST (the test
                         proves the client never resolved NAME itself)
    reply N              answer CONNECT with REP N (a full reply) and close
    reply-short N        answer CONNECT with only "05 N", then close
    bind ipv4|ipv6|domain  the address type of BND.ADDR in replies
    garbage              answer CONNECT with bytes that are not SOCKS
    greeting-garbage     answer the greeting with bytes that are not SOCKS
    wrong-version        answer CONNECT with version 4
    truncated            answer CONNECT with 6 bytes of a reply, then close
    slow MS              wait MS milliseconds before each byte it sends
                         during the negotiation (not while relaying)
    silent               accept, read, never answer
    coalesce             on success, wait for the target's first bytes and
                         send them with the reply in one write

Without reply/garbage/... the server relays: it connects to the target
(only loopback addresses, "localhost", or a mapped name) and copies bytes
both ways until either side closes. Python 3 standard library only.
"""
import argparse
import os
import select
import socket
import sys
import threading
import time


class Script:
    def __init__(self, text):
        self.user = None
        self.password = None
        self.auth_fail = False
        self.method = None
        self.maps = {}
        self.reply = None
        self.reply_short = None
        self.bind = 'ipv4'
        self.garbage = False
        self.greeting_garbage = False
        self.wrong_version = False
        self.truncated = False
        self.slow_ms = 0
        self.silent = False
        self.coalesce = False
        for raw in text.splitlines():
            line = raw.split('#', 1)[0].strip()
            if not line:
                continue
            w = line.split()
            d = w[0]
            if d == 'user':
                self.user, self.password = w[1], w[2]
            elif d == 'auth-fail':
                self.auth_fail = True
            elif d == 'method':
                self.method = int(w[1], 16)
            elif d == 'map':
                self.maps[w[1].lower()] = w[2]
            elif d == 'reply':
                self.reply = int(w[1])
            elif d == 'reply-short':
                self.reply_short = int(w[1])
            elif d == 'bind':
                self.bind = w[1]
            elif d == 'garbage':
                self.garbage = True
            elif d == 'greeting-garbage':
                self.greeting_garbage = True
            elif d == 'wrong-version':
                self.wrong_version = True
            elif d == 'truncated':
                self.truncated = True
            elif d == 'slow':
                self.slow_ms = int(w[1])
            elif d == 'silent':
                self.silent = True
            elif d == 'coalesce':
                self.coalesce = True
            else:
                raise SystemExit('socks5-server: unknown directive: %s' % line)


class Events:
    def __init__(self, path):
        self.f = open(path, 'a')
        self.lock = threading.Lock()

    def __call__(self, line):
        with self.lock:
            self.f.write(line + '\n')
            self.f.flush()


class Closed(Exception):
    pass


def recv_exact(c, n):
    b = b''
    while len(b) < n:
        k = c.recv(n - len(b))
        if not k:
            raise Closed()
        b += k
    return b


def send(c, data, script):
    if script.slow_ms:
        for i in range(len(data)):
            time.sleep(script.slow_ms / 1000.0)
            c.sendall(data[i:i + 1])
    else:
        c.sendall(data)


def bound(script):
    if script.bind == 'ipv6':
        return b'\x04' + socket.inet_pton(socket.AF_INET6, '::1') + b'\x04\x38'
    if script.bind == 'domain':
        return b'\x03\x09proxy.lan\x04\x38'
    return b'\x01\x7f\x00\x00\x01\x04\x38'


def reply(rep, script):
    return bytes([5, rep, 0]) + bound(script)


def allowed_target(host, script):
    h = host.lower()
    if h in script.maps:
        return script.maps[h]
    if h in ('localhost', '127.0.0.1', '::1'):
        return host
    return None


def pipe(a, b):
    socks = [a, b]
    try:
        while True:
            r, _, _ = select.select(socks, [], [])
            for s in r:
                data = s.recv(65536)
                if not data:
                    return
                (b if s is a else a).sendall(data)
    except OSError:
        return


def serve(c, script, ev):
    ev('connection')
    if script.silent:
        try:
            while c.recv(4096):
                pass
        except OSError:
            pass
        return
    ver, n = recv_exact(c, 2)
    methods = recv_exact(c, n)
    ev('methods ' + ' '.join('%02x' % m for m in methods))
    if ver != 5:
        return
    if script.greeting_garbage:
        send(c, b'HTTP/1.0 400 Bad Request\r\n\r\n', script)
        return
    if script.method is not None:
        choice = script.method
    elif script.user is not None or script.auth_fail:
        choice = 2 if 2 in methods else 0xff
    else:
        choice = 0 if 0 in methods else 0xff
    send(c, bytes([5, choice]), script)
    if choice == 0xff:
        return
    if choice == 2:
        v, ulen = recv_exact(c, 2)
        user = recv_exact(c, ulen).decode('utf-8', 'replace')
        plen = recv_exact(c, 1)[0]
        password = recv_exact(c, plen).decode('utf-8', 'replace')
        ok = (not script.auth_fail and v == 1 and user == script.user
              and password == script.password)
        ev('auth %s %s' % (user, 'ok' if ok else 'refused'))
        send(c, bytes([1, 0 if ok else 1]), script)
        if not ok:
            return
    ver, cmd, rsv, atyp = recv_exact(c, 4)
    if atyp == 1:
        host = socket.inet_ntop(socket.AF_INET, recv_exact(c, 4))
        kind = 'ipv4'
    elif atyp == 4:
        host = socket.inet_ntop(socket.AF_INET6, recv_exact(c, 16))
        kind = 'ipv6'
    elif atyp == 3:
        host = recv_exact(c, recv_exact(c, 1)[0]).decode('utf-8', 'replace')
        kind = 'domain'
    else:
        ev('connect bad-atyp %d' % atyp)
        send(c, reply(8, script), script)
        return
    port = int.from_bytes(recv_exact(c, 2), 'big')
    ev('connect %s %s port %d' % (kind, host, port))
    if script.garbage:
        send(c, b'HTTP/1.0 400 Bad Request\r\n\r\n', script)
        return
    if script.wrong_version:
        send(c, b'\x04' + reply(0, script)[1:], script)
        return
    if script.truncated:
        send(c, reply(0, script)[:6], script)
        return
    if script.reply_short is not None:
        ev('reply %d' % script.reply_short)
        send(c, bytes([5, script.reply_short]), script)
        return
    if script.reply is not None:
        ev('reply %d' % script.reply)
        send(c, reply(script.reply, script), script)
        return
    target = allowed_target(host, script)
    if target is None:
        ev('reply 4')
        send(c, reply(4, script), script)
        return
    try:
        t = socket.create_connection((target, port), timeout=10)
        t.settimeout(None)
    except OSError:
        ev('reply 5')
        send(c, reply(5, script), script)
        return
    ev('reply 0')
    if script.coalesce:
        first = t.recv(65536)
        c.sendall(reply(0, script) + first)
    else:
        send(c, reply(0, script), script)
    pipe(c, t)
    t.close()


def handle(c, script, ev):
    try:
        serve(c, script, ev)
    except (Closed, OSError):
        pass
    finally:
        try:
            c.close()
        except OSError:
            pass


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--script', required=True)
    ap.add_argument('--events', required=True)
    ap.add_argument('--port-file', required=True)
    ap.add_argument('--listen-fd', type=int)
    a = ap.parse_args()
    with open(a.script) as f:
        script = Script(f.read())
    ev = Events(a.events)
    if a.listen_fd is not None:
        ls = socket.socket(fileno=a.listen_fd)
    else:
        ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        ls.bind(('127.0.0.1', 0))
    ls.listen(16)
    tmp = a.port_file + '.tmp'
    with open(tmp, 'w') as f:
        f.write('%d\n' % ls.getsockname()[1])
    os.rename(tmp, a.port_file)
    while True:
        c, _ = ls.accept()
        threading.Thread(target=handle, args=(c, script, ev), daemon=True).start()


if __name__ == '__main__':
    try:
        main()
    except KeyboardInterrupt:
        sys.exit(0)
