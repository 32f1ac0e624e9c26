#!/usr/bin/env python3
"""autoconfig-server.py - an HTTPS server of autoconfig documents for
tests/configure.sh (stdlib only).

Usage: autoconfig-server.py DOCROOT CERT KEY BADCERT BADKEY READY-FILE LOG

Listens on 127.0.0.1 port 443. A request for https://HOST/PATH?QUERY is
answered with the file DOCROOT/HOST/PATH (the query is ignored, but
every request line is appended to LOG with its Host header, so that the
test sees the escaped address); a missing file is 404. A host name
starting with "badcert." or "autoconfig.badcert." is served with BADCERT
(a certificate from a CA nobody trusts) through SNI; every other one with
CERT. A file named "500" in a host's directory makes every request to
it answer 500; one named "redirect", a 301 to the same URL over http://.
"""
import http.server
import os
import ssl
import sys


def main():
    docroot, cert, key, badcert, badkey, ready, log = sys.argv[1:8]
    good = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    good.load_cert_chain(cert, key)
    bad = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    bad.load_cert_chain(badcert, badkey)

    def pick(sock, name, _ctx):
        if name and (name.startswith("badcert.") or name.startswith("autoconfig.badcert.")):
            sock.context = bad
    good.sni_callback = pick

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            host = (self.headers.get("Host") or "").split(":")[0].lower()
            with open(log, "a") as f:
                f.write("%s %s\n" % (host, self.path))
            path = self.path.split("?", 1)[0]
            base = os.path.join(docroot, host)
            if os.path.exists(os.path.join(base, "500")):
                self.send_error(500)
                return
            if os.path.exists(os.path.join(base, "redirect")):
                self.send_response(301)
                self.send_header("Location", "http://%s%s" % (host, self.path))
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            full = os.path.normpath(os.path.join(base, path.lstrip("/")))
            if not full.startswith(base + os.sep) or not os.path.isfile(full):
                self.send_error(404)
                return
            data = open(full, "rb").read()
            self.send_response(200)
            self.send_header("Content-Type", "text/xml")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args):
            pass

    srv = http.server.HTTPServer(("127.0.0.1", 443), Handler)
    srv.socket = good.wrap_socket(srv.socket, server_side=True)
    with open(ready + ".tmp", "w") as f:
        f.write("ready\n")
    os.rename(ready + ".tmp", ready)
    srv.serve_forever()


if __name__ == "__main__":
    main()
