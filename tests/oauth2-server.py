#!/usr/bin/env python3
"""tests/oauth2-server.py - a fake OAuth2 authorization server for the tests.

Owns: playing an OAuth2 provider (RFC 6749 authorization-code grant with
PKCE S256, RFC 7636; refresh tokens, with rotation on request; the device
grant, RFC 8628; token introspection, RFC 7662, for Dovecot's oauth2
passdb) over HTTPS on 127.0.0.1, and the control interface through which
a test changes its behaviour and counts what it was asked. Python 3
standard library only. It is no part of smtpfwd: tokens appear in its own
log (STATE/server.log), never in smtpfwd's.

Usage:
  python3 tests/oauth2-server.py --state DIR --cert CERT --key KEY
      [--port N] [--client-id ID] [--client-secret SECRET] [--user NAME]
      [--prefix P] [--lifetime SECONDS] [--rotate] [--scope SCOPE]

  --state DIR   its state directory (made if missing): state.json (every
                code, token and setting, rewritten atomically after each
                change, so a server started again on the same DIR knows
                the tokens of the one before: "endpoint down" is
                stopping the server, "back" starting it again), server.log
                (one line per request, tokens included), port (the port,
                written when it listens: wait for this file).
  --cert/--key  the server certificate (tests/certs.sh: server.pem and
                server-key.pem are valid for localhost and 127.0.0.1).
  --port N      listen on N (0, the default: a random free port; give
                the old port to start again where smtpfwd's settings
                point).
  --client-id   the one registered client (default "smtpfwd-test");
  --client-secret  when given, /token and /device require it (form
                field client_secret, or HTTP Basic authentication).
  --user        the user every token is issued to (default "alice"):
                introspection answers it as "username" and "sub".
  --prefix      tokens are PREFIX-access-N, PREFIX-refresh-N, codes
                PREFIX-code-N, device codes PREFIX-device-N, N counting
                from 1 for each kind (default PREFIX: "fake" and 8 random
                hex digits; prefix and counters are kept in the state). A
                test that knows PREFIX knows the tokens the server will
                issue, in order: the first access token is
                PREFIX-access-1.
  --lifetime    expires_in of access tokens (default 3600; 0 = no
                expires_in in the answer, and the token never expires).
  --rotate      a refresh grant also issues a new refresh token and
                retires the one used (invalid_grant afterwards).
  --scope       scopes (space separated) /authorize, /device and /token
                require (default: none required).

Endpoints (https://127.0.0.1:PORT):
  GET  /authorize   response_type=code, client_id, redirect_uri (http on
                    127.0.0.1, localhost or [::1], any port and path, as
                    RFC 8252 7.3 wants), state, code_challenge,
                    code_challenge_method=S256, scope. An unknown client or
                    a redirect_uri that is not loopback http: 400 and an
                    HTML page (no redirect). Otherwise a 302 to
                    redirect_uri with code and state; a missing/plain PKCE
                    challenge: error=invalid_request; response_type not
                    code: error=unsupported_response_type; a required
                    scope missing: error=invalid_scope. The setting
                    authorize_mode changes the approval: approve (default),
                    deny (error=access_denied&state=...), wrong_state (the
                    state with "-tampered" appended), no_state (no state
                    in the redirect). Codes live 600 s and work once.
  POST /token       grant_type=authorization_code (code, redirect_uri equal
                    to the one given to /authorize, client_id,
                    code_verifier whose S256 is the challenge),
                    grant_type=refresh_token (refresh_token, client_id),
                    grant_type=urn:ietf:params:oauth:grant-type:device_code
                    (device_code, client_id). Success: 200
                    {"access_token", "token_type": "Bearer", "expires_in",
                    "refresh_token" (authorization_code, device_code, and
                    refresh_token when rotating), "scope"}. Errors (RFC 6749
                    5.2): 400 invalid_request / invalid_grant /
                    unsupported_grant_type, 401 invalid_client; device:
                    400 authorization_pending, slow_down, access_denied,
                    expired_token.
  POST /device      client_id, scope: {"device_code", "user_code",
                    "verification_uri" (https://127.0.0.1:PORT/device),
                    "verification_uri_complete", "expires_in", "interval"}
                    (other shapes: the setting device_shape).
  GET  /device      the verification page (HTML naming the user code).
  GET  /device/approve?user_code=CODE[&deny=1]   plays the user: approves
                    (or denies) that device code; 404 for an unknown code.
  POST /introspect  RFC 7662: token (form field; also GET ?token= and
                    "Authorization: Bearer TOKEN"): {"active": true,
                    "username", "sub", "client_id", "scope", "exp",
                    "token_type": "Bearer"} for a live access token,
                    {"active": false} for anything else (expired, revoked,
                    unknown, a refresh token).

Control (for the tests; POST or GET, parameters in the query or the form
body; the answer is JSON unless said otherwise):
  /control/set?NAME=VALUE...   change settings (answers all settings):
      lifetime=SECONDS        expires_in of new access tokens (0: none)
      rotate=0|1              rotation of refresh tokens
      authorize_mode=approve|deny|wrong_state|no_state
      token_fail=STATUS       /token answers STATUS with token_fail_body
                              (default {"error": "server_error"}) instead of
                              working, token_fail_count times (-1, the
                              default: until set to 0); e.g. token_fail=500;
                              token_fail=200 token_fail_body=garbage gives a
                              body that is not JSON
      token_hang=SECONDS      /token waits that long (or until
                              /control/release) before it answers; 0: off
      device_interval=SECONDS interval of new device codes (default 1)
      device_expires_in=SECONDS  lifetime of new device codes (default 600)
      device_slow_down=N      the next N polls of a pending device code
                              answer slow_down (each adds 5 s to the
                              interval the client must keep, RFC 8628 3.5)
      user=NAME               the user of new tokens
      access_pad=N            new access tokens get "." and N more
                              characters (base64url), as long as the JWTs
                              of some providers (0: none)
      device_shape=rfc|google|microsoft  the /device answer as RFC 8628
                              has it (verification_uri and _complete), as
                              Google's (verification_url, no _complete) or
                              Microsoft's (no _complete, a "message"; a
                              denial is authorization_declined)
  /control/expire-access      every access token expires now (introspection
                              says inactive; /control/tokens shows it)
  /control/revoke-access      the same, recorded as revoked
  /control/revoke-refresh[?token=T]   revoke every refresh token (or T):
                              a refresh grant with it is invalid_grant
  /control/release            end a token_hang wait now
  /control/issue              issue a token pair as if a flow had run (not
                              counted as /token): {"access_token",
                              "refresh_token", "expires_in"}
  /control/count?key=KEY      plain text: how many requests KEY saw (0 if
                              none). KEYs: authorize, token, device,
                              device_approve, introspect, control, and
                              token:authorization_code, token:refresh_token,
                              token:device_code, token:failed (answered by
                              token_fail or token_hang), token:error (an
                              OAuth2 error answer), device:slow_down (a
                              slow_down answered), device:pending (an
                              authorization_pending answered),
                              device:too_fast (a poll
                              sooner than the interval the client must keep),
                              introspect:active, introspect:inactive
  /control/counts             all counts as one JSON object
  /control/reset-counts       all counts back to 0
  /control/tokens             {"access": [{"token", "active", "expires_at",
                              "state": "live|expired|revoked"}...],
                              "refresh": [{"token", "state":
                              "live|revoked|rotated"}...], "last_access",
                              "last_refresh", "last_user_code" (of the
                              newest device code), "next_access" (the
                              access token it will issue next)}
  /control/state              the whole state (settings, codes, tokens)

Exit: on SIGTERM/SIGINT (the state is already saved). Command-line errors:
exit 2.
"""

import argparse
import base64
import hashlib
import html
import http.server
import json
import os
import re
import secrets
import signal
import socketserver
import ssl
import sys
import threading
import time
import urllib.parse

DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
VERIFIER_RE = re.compile(r"^[A-Za-z0-9._~-]{43,128}$")
CHALLENGE_RE = re.compile(r"^[A-Za-z0-9_-]{43}$")

DEFAULT_SETTINGS = {
    "lifetime": 3600,
    "rotate": False,
    "authorize_mode": "approve",
    "token_fail": 0,
    "token_fail_body": '{"error": "server_error"}',
    "token_fail_count": -1,
    "token_hang": 0,
    "device_interval": 1,
    "device_expires_in": 600,
    "device_slow_down": 0,
    "user": "alice",
    "device_shape": "rfc",
    "access_pad": 0,
}
INT_SETTINGS = ("lifetime", "token_fail", "token_fail_count", "token_hang",
                "device_interval", "device_expires_in", "device_slow_down", "access_pad")
MODES = ("approve", "deny", "wrong_state", "no_state")
SHAPES = ("rfc", "google", "microsoft")


class State:
    """Everything the provider knows, saved to STATE/state.json after each
    change. One lock serializes the request threads."""

    def __init__(self, directory, args):
        self.dir = directory
        self.path = os.path.join(directory, "state.json")
        self.lock = threading.RLock()
        self.release = threading.Event()
        self.data = None
        if os.path.exists(self.path):
            with open(self.path, encoding="utf-8") as f:
                self.data = json.load(f)
        if self.data is None:
            self.data = {
                "prefix": args.prefix or "fake" + secrets.token_hex(4),
                "seq": {},
                "settings": dict(DEFAULT_SETTINGS),
                "codes": {},
                "devices": {},
                "access": {},
                "refresh": {},
                "counts": {},
                "last_access": None,
                "last_refresh": None,
            }
        elif args.prefix:
            self.data["prefix"] = args.prefix
        s = self.data["settings"]
        for k, v in DEFAULT_SETTINGS.items():
            s.setdefault(k, v)
        if args.lifetime is not None:
            s["lifetime"] = args.lifetime
        if args.rotate:
            s["rotate"] = True
        if args.user:
            s["user"] = args.user
        self.save()

    def save(self):
        tmp = self.path + ".tmp"
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump(self.data, f, indent=1, sort_keys=True)
        os.replace(tmp, self.path)

    def settings(self):
        return self.data["settings"]

    def count(self, key):
        c = self.data["counts"]
        c[key] = c.get(key, 0) + 1

    def next_name(self, kind):
        seq = self.data["seq"]
        seq[kind] = seq.get(kind, 0) + 1
        return "%s-%s-%d" % (self.data["prefix"], kind, seq[kind])

    def access_name(self, n):
        """The name of the Nth access token (with access_pad: "." and as
        many base64url characters derived from the name, as long as the
        JWTs some providers issue)."""
        at = "%s-access-%d" % (self.data["prefix"], n)
        pad = self.settings()["access_pad"]
        if pad > 0:
            chunk = base64.urlsafe_b64encode(hashlib.sha512(at.encode()).digest()).decode().rstrip("=")
            at += "." + (chunk * (pad // len(chunk) + 1))[:pad]
        return at

    def issue(self, client_id, scope, with_refresh):
        """A new access token (and refresh token): the token answer."""
        s = self.settings()
        now = int(time.time())
        at = self.access_name(self.data["seq"].get("access", 0) + 1)
        self.next_name("access")
        lifetime = s["lifetime"]
        self.data["access"][at] = {
            "user": s["user"], "client_id": client_id, "scope": scope,
            "expires_at": now + lifetime if lifetime > 0 else None,
            "state": "live", "issued": now,
        }
        self.data["last_access"] = at
        answer = {"access_token": at, "token_type": "Bearer", "scope": scope}
        if lifetime > 0:
            answer["expires_in"] = lifetime
        if with_refresh:
            rt = self.next_name("refresh")
            self.data["refresh"][rt] = {
                "user": s["user"], "client_id": client_id, "scope": scope,
                "state": "live", "issued": now,
            }
            self.data["last_refresh"] = rt
            answer["refresh_token"] = rt
        return answer

    def access_state(self, token):
        """live / expired / revoked / None (unknown)."""
        a = self.data["access"].get(token)
        return None if a is None else self.access_state_value(a)

    @staticmethod
    def access_state_value(a):
        if a["state"] == "live" and a["expires_at"] is not None and a["expires_at"] <= time.time():
            return "expired"
        return a["state"]


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "smtpfwd-fake-oauth2/1"

    # ---- plumbing ----

    def log_message(self, fmt, *args):
        self.server.log("%s %s" % (self.address_string(), fmt % args))

    def log_error(self, fmt, *args):
        self.server.log("error: %s" % (fmt % args))

    def send_body(self, status, body, ctype="application/json", headers=None):
        if isinstance(body, (dict, list)):
            body = json.dumps(body)
        data = body.encode("utf-8") if isinstance(body, str) else body
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Cache-Control", "no-store")
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)
        self.server.log("  -> %d %s" % (status, data.decode("utf-8", "replace")[:500]))

    def send_text(self, status, text):
        self.send_body(status, text + "\n", "text/plain; charset=utf-8")

    def send_page(self, status, title, text):
        page = ("<!DOCTYPE html>\n<html><head><title>%s</title></head><body><h1>%s</h1>"
                "<p>%s</p></body></html>\n" % (html.escape(title), html.escape(title),
                                                html.escape(text)))
        self.send_body(status, page, "text/html; charset=utf-8")

    def redirect(self, location):
        self.send_response(302)
        self.send_header("Location", location)
        self.send_header("Content-Length", "0")
        self.end_headers()
        self.server.log("  -> 302 %s" % location)

    def params(self):
        """Query and (for POST) form parameters, one value each (the
        last), and the set of names given more than once."""
        url = urllib.parse.urlsplit(self.path)
        pairs = urllib.parse.parse_qsl(url.query, keep_blank_values=True)
        if self.command == "POST":
            n = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(n).decode("utf-8", "replace") if n > 0 else ""
            pairs += urllib.parse.parse_qsl(raw, keep_blank_values=True)
        out, twice = {}, set()
        for k, v in pairs:
            if k in out:
                twice.add(k)
            out[k] = v
        self.server.log("  params %s" % json.dumps(out, sort_keys=True))
        return out, twice

    def basic_auth(self):
        """(client_id, client_secret) from HTTP Basic, or (None, None)."""
        h = self.headers.get("Authorization") or ""
        if not h.lower().startswith("basic "):
            return None, None
        try:
            raw = base64.b64decode(h[6:].strip()).decode("utf-8")
        except Exception:
            return "", ""
        cid, _, sec = raw.partition(":")
        return urllib.parse.unquote_plus(cid), urllib.parse.unquote_plus(sec)

    def oauth_error(self, status, error, description):
        st = self.server.state
        st.count("token:error" if self.route == "/token" else self.route.strip("/") + ":error")
        st.save()
        headers = {}
        if status == 401:
            headers["WWW-Authenticate"] = 'Basic realm="fake"'
        self.send_body(status, {"error": error, "error_description": description},
                       headers=headers)

    def client_ok(self, p):
        """Checks the client (id, and secret when one is registered);
        answers invalid_client itself and returns False when it fails."""
        bid, bsec = self.basic_auth()
        cid = p.get("client_id") if bid is None else bid
        sec = p.get("client_secret") if bsec is None else bsec
        if cid != self.server.client_id:
            self.oauth_error(401, "invalid_client", "unknown client_id %r" % cid)
            return False
        if self.server.client_secret is not None and sec != self.server.client_secret:
            self.oauth_error(401, "invalid_client", "wrong or missing client_secret")
            return False
        return True

    def scope_missing(self, scope):
        have = set((scope or "").split())
        return [s for s in self.server.required_scope if s not in have]

    # ---- dispatch ----

    def do_GET(self):
        self.dispatch()

    def do_POST(self):
        self.dispatch()

    def dispatch(self):
        self.route = urllib.parse.urlsplit(self.path).path
        self.server.log("%s %s" % (self.command, self.path))
        routes = {
            ("GET", "/authorize"): self.authorize,
            ("POST", "/token"): self.token,
            ("POST", "/device"): self.device,
            ("GET", "/device"): self.device_page,
            ("GET", "/device/approve"): self.device_approve,
            ("POST", "/device/approve"): self.device_approve,
            ("POST", "/introspect"): self.introspect,
            ("GET", "/introspect"): self.introspect,
        }
        fn = routes.get((self.command, self.route))
        if fn is None and self.route.startswith("/control/"):
            fn = self.control
        if fn is None:
            self.params()
            self.send_page(404, "Not found", "no such endpoint: %s %s" % (self.command, self.route))
            return
        fn()

    # ---- GET /authorize ----

    def authorize(self):
        st = self.server.state
        p, twice = self.params()
        with st.lock:
            st.count("authorize")
            st.save()
        if p.get("client_id") != self.server.client_id:
            self.send_page(400, "Unknown client", "client_id %r is not registered" % p.get("client_id"))
            return
        ru = p.get("redirect_uri", "")
        u = urllib.parse.urlsplit(ru)
        if (u.scheme != "http" or u.hostname not in ("127.0.0.1", "localhost", "::1")
                or u.fragment or "redirect_uri" in twice):
            self.send_page(400, "Invalid redirect_uri",
                           "redirect_uri %r is not a loopback http URI" % ru)
            return
        state_param = p.get("state")

        def back(**q):
            if state_param is not None and "state" not in q:
                q["state"] = state_param
            q = {k: v for k, v in q.items() if v is not None}
            sep = "&" if u.query else "?"
            self.redirect(ru + sep + urllib.parse.urlencode(q))

        if twice:
            back(error="invalid_request", error_description="repeated parameter")
            return
        if p.get("response_type") != "code":
            back(error="unsupported_response_type", error_description="only code")
            return
        if p.get("code_challenge_method") != "S256" or not CHALLENGE_RE.match(p.get("code_challenge", "")):
            back(error="invalid_request", error_description="PKCE S256 code_challenge required")
            return
        missing = self.scope_missing(p.get("scope"))
        if missing:
            back(error="invalid_scope", error_description="scope lacks " + " ".join(missing))
            return
        with st.lock:
            mode = st.settings()["authorize_mode"]
            if mode == "deny":
                back(error="access_denied", error_description="the user said no")
                return
            code = st.next_name("code")
            st.data["codes"][code] = {
                "client_id": p["client_id"], "redirect_uri": ru,
                "challenge": p["code_challenge"], "scope": p.get("scope", ""),
                "expires_at": int(time.time()) + 600, "used": False,
            }
            st.save()
        if mode == "wrong_state":
            back(code=code, state=(state_param or "") + "-tampered")
        elif mode == "no_state":
            back(code=code, state=None)
        else:
            back(code=code)

    # ---- POST /token ----

    def token(self):
        st = self.server.state
        p, twice = self.params()
        grant = p.get("grant_type", "")
        short = "device_code" if grant == DEVICE_GRANT else grant
        with st.lock:
            st.count("token")
            if short in ("authorization_code", "refresh_token", "device_code"):
                st.count("token:" + short)
            s = st.settings()
            fail = s["token_fail"]
            if fail and s["token_fail_count"] != 0:
                if s["token_fail_count"] > 0:
                    s["token_fail_count"] -= 1
                    if s["token_fail_count"] == 0:
                        s["token_fail"] = 0
                st.count("token:failed")
                st.save()
                self.send_body(fail, s["token_fail_body"])
                return
            hang = s["token_hang"]
            if hang:
                st.count("token:failed")
                st.release.clear()
            st.save()
        if hang:
            self.server.log("  hanging for %d s" % hang)
            st.release.wait(hang)
            self.send_body(503, {"error": "temporarily_unavailable"})
            return
        if twice:
            self.oauth_error(400, "invalid_request", "repeated parameter: " + " ".join(sorted(twice)))
            return
        if grant == "authorization_code":
            self.grant_code(p)
        elif grant == "refresh_token":
            self.grant_refresh(p)
        elif grant == DEVICE_GRANT:
            self.grant_device(p)
        else:
            self.oauth_error(400, "unsupported_grant_type", "grant_type %r" % grant)

    def grant_code(self, p):
        st = self.server.state
        for k in ("code", "redirect_uri", "code_verifier"):
            if not p.get(k):
                self.oauth_error(400, "invalid_request", "missing " + k)
                return
        if not self.client_ok(p):
            return
        with st.lock:
            c = st.data["codes"].get(p["code"])
            if c is None or c["used"] or c["expires_at"] < time.time():
                self.oauth_error(400, "invalid_grant", "unknown, used or expired code")
                return
            if c["client_id"] != self.server.client_id:
                self.oauth_error(400, "invalid_grant", "code issued to another client")
                return
            if p["redirect_uri"] != c["redirect_uri"]:
                self.oauth_error(400, "invalid_grant", "redirect_uri differs from the authorization request")
                return
            v = p["code_verifier"]
            digest = base64.urlsafe_b64encode(hashlib.sha256(v.encode("ascii", "replace")).digest())
            if not VERIFIER_RE.match(v) or digest.decode("ascii").rstrip("=") != c["challenge"]:
                self.oauth_error(400, "invalid_grant", "code_verifier does not match the code_challenge")
                return
            c["used"] = True
            answer = st.issue(c["client_id"], c["scope"], True)
            st.save()
        self.send_body(200, answer)

    def grant_refresh(self, p):
        st = self.server.state
        if not p.get("refresh_token"):
            self.oauth_error(400, "invalid_request", "missing refresh_token")
            return
        if not self.client_ok(p):
            return
        with st.lock:
            r = st.data["refresh"].get(p["refresh_token"])
            if r is None or r["state"] != "live":
                self.oauth_error(400, "invalid_grant", "refresh token unknown, revoked or rotated")
                return
            missing = self.scope_missing(p.get("scope", r["scope"]))
            if missing:
                self.oauth_error(400, "invalid_scope", "scope lacks " + " ".join(missing))
                return
            rotate = st.settings()["rotate"]
            answer = st.issue(r["client_id"], p.get("scope", r["scope"]), rotate)
            if rotate:
                r["state"] = "rotated"
            st.save()
        self.send_body(200, answer)

    def grant_device(self, p):
        st = self.server.state
        if not p.get("device_code"):
            self.oauth_error(400, "invalid_request", "missing device_code")
            return
        if not self.client_ok(p):
            return
        with st.lock:
            d = st.data["devices"].get(p["device_code"])
            now = time.time()
            if d is None or d["state"] == "used":
                self.oauth_error(400, "invalid_grant", "unknown or used device_code")
                return
            too_fast = d["last_poll"] is not None and now - d["last_poll"] < d["interval"] - 0.05
            d["last_poll"] = now
            if too_fast:
                st.count("device:too_fast")
            if now >= d["expires_at"]:
                d["state"] = "expired"
            if d["state"] == "expired":
                self.oauth_error(400, "expired_token", "the device code expired")
                return
            if d["state"] == "denied":
                declined = st.settings()["device_shape"] == "microsoft"
                self.oauth_error(400, "authorization_declined" if declined else "access_denied",
                                 "the user said no")
                return
            if d["state"] == "pending":
                s = st.settings()
                if s["device_slow_down"] > 0 or too_fast:
                    if s["device_slow_down"] > 0:
                        s["device_slow_down"] -= 1
                    d["interval"] += 5
                    st.count("device:slow_down")
                    self.oauth_error(400, "slow_down", "poll less often")
                    return
                st.count("device:pending")
                self.oauth_error(400, "authorization_pending", "the user has not answered yet")
                return
            d["state"] = "used"
            answer = st.issue(d["client_id"], d["scope"], True)
            st.save()
        self.send_body(200, answer)

    # ---- /device ----

    def device(self):
        st = self.server.state
        p, _ = self.params()
        with st.lock:
            st.count("device")
            st.save()
        if not self.client_ok(p):
            return
        missing = self.scope_missing(p.get("scope"))
        if missing:
            self.oauth_error(400, "invalid_scope", "scope lacks " + " ".join(missing))
            return
        with st.lock:
            s = st.settings()
            dc = st.next_name("device")
            letters = "BCDFGHJKLMNPQRSTVWXZ"
            uc = "".join(secrets.choice(letters) for _ in range(8))
            uc = uc[:4] + "-" + uc[4:]
            st.data["devices"][dc] = {
                "user_code": uc, "client_id": p.get("client_id"), "scope": p.get("scope", ""),
                "expires_at": time.time() + s["device_expires_in"], "interval": s["device_interval"],
                "state": "pending", "last_poll": None,
            }
            st.data["last_user_code"] = uc
            st.save()
        base = "https://127.0.0.1:%d/device" % self.server.port
        answer = {"device_code": dc, "user_code": uc, "expires_in": s["device_expires_in"],
                  "interval": s["device_interval"]}
        if s["device_shape"] == "google":
            answer["verification_url"] = base
        else:
            answer["verification_uri"] = base
        if s["device_shape"] == "microsoft":
            answer["message"] = "To sign in, use a web browser to open the page %s and enter the code %s." % (base, uc)
        if s["device_shape"] == "rfc":
            answer["verification_uri_complete"] = base + "?" + urllib.parse.urlencode({"user_code": uc})
        self.send_body(200, answer)

    def device_page(self):
        p, _ = self.params()
        self.send_page(200, "Device login", "enter the code %s" % p.get("user_code", "shown by the device"))

    def device_approve(self):
        st = self.server.state
        p, _ = self.params()
        uc = p.get("user_code", "").strip().upper()
        with st.lock:
            st.count("device_approve")
            found = [d for d in st.data["devices"].values() if d["user_code"] == uc]
            if not found:
                st.save()
                self.send_page(404, "Unknown code", "no device waits for %r" % uc)
                return
            d = found[0]
            if d["state"] != "pending":
                st.save()
                self.send_page(409, "Not pending", "that code is %s" % d["state"])
                return
            d["state"] = "denied" if p.get("deny") else "approved"
            st.save()
        self.send_page(200, "Done", "device %s" % d["state"])

    # ---- /introspect ----

    def introspect(self):
        st = self.server.state
        p, _ = self.params()
        token = p.get("token")
        h = self.headers.get("Authorization") or ""
        if token is None and h.lower().startswith("bearer "):
            token = h[7:].strip()
        with st.lock:
            st.count("introspect")
            state = st.access_state(token) if token else None
            if state == "live":
                a = st.data["access"][token]
                st.count("introspect:active")
                answer = {"active": True, "username": a["user"], "sub": a["user"],
                          "client_id": a["client_id"], "scope": a["scope"],
                          "token_type": "Bearer", "iat": a["issued"]}
                if a["expires_at"] is not None:
                    answer["exp"] = a["expires_at"]
            else:
                st.count("introspect:inactive")
                answer = {"active": False}
            st.save()
        self.send_body(200, answer)

    # ---- /control/... ----

    def control(self):
        st = self.server.state
        p, _ = self.params()
        what = self.route[len("/control/"):]
        with st.lock:
            st.count("control")
            d = st.data
            if what == "set":
                s = st.settings()
                for k, v in p.items():
                    if k not in DEFAULT_SETTINGS:
                        st.save()
                        self.send_text(400, "unknown setting %s" % k)
                        return
                    if k in INT_SETTINGS:
                        try:
                            v = int(v)
                        except ValueError:
                            st.save()
                            self.send_text(400, "%s needs a number" % k)
                            return
                    elif k == "rotate":
                        v = v not in ("0", "", "no", "false", "off")
                    elif k == "authorize_mode" and v not in MODES:
                        st.save()
                        self.send_text(400, "authorize_mode is one of " + " ".join(MODES))
                        return
                    elif k == "device_shape" and v not in SHAPES:
                        st.save()
                        self.send_text(400, "device_shape is one of " + " ".join(SHAPES))
                        return
                    s[k] = v
                if "token_fail" in p and "token_fail_count" not in p:
                    s["token_fail_count"] = -1
                if s.get("token_hang") == 0:
                    st.release.set()
                answer = s
            elif what in ("expire-access", "revoke-access"):
                now = int(time.time())
                for a in d["access"].values():
                    if st.access_state_value(a) == "live":
                        if what == "expire-access":
                            a["expires_at"] = now - 1
                        else:
                            a["state"] = "revoked"
                answer = {"done": what}
            elif what == "revoke-refresh":
                t = p.get("token")
                n = 0
                for k, r in d["refresh"].items():
                    if (t is None or k == t) and r["state"] == "live":
                        r["state"] = "revoked"
                        n += 1
                answer = {"revoked": n}
            elif what == "release":
                st.release.set()
                answer = {"released": True}
            elif what == "issue":
                answer = st.issue(self.server.client_id, p.get("scope", " ".join(self.server.required_scope)), True)
            elif what == "count":
                st.save()
                self.send_text(200, str(d["counts"].get(p.get("key", ""), 0)))
                return
            elif what == "counts":
                answer = d["counts"]
            elif what == "reset-counts":
                d["counts"] = {}
                answer = d["counts"]
            elif what == "tokens":
                answer = {
                    "access": [{"token": k, "active": st.access_state(k) == "live",
                                "state": st.access_state(k), "expires_at": v["expires_at"]}
                               for k, v in d["access"].items()],
                    "refresh": [{"token": k, "state": v["state"]} for k, v in d["refresh"].items()],
                    "last_access": d["last_access"], "last_refresh": d["last_refresh"],
                    "last_user_code": d.get("last_user_code"),
                    "next_access": st.access_name(d["seq"].get("access", 0) + 1),
                }
            elif what == "state":
                answer = d
            else:
                st.save()
                self.send_text(404, "no such control: %s" % what)
                return
            st.save()
            body = json.dumps(answer, sort_keys=True)
        self.send_body(200, body)


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, addr, state, ctx, args):
        super().__init__(addr, Handler)
        self.state = state
        self.ctx = ctx
        self.client_id = args.client_id
        self.client_secret = args.client_secret
        self.required_scope = (args.scope or "").split()
        self.port = self.server_address[1]
        self.log_lock = threading.Lock()
        self.log_file = open(os.path.join(state.dir, "server.log"), "a", encoding="utf-8")

    def log(self, line):
        with self.log_lock:
            self.log_file.write("%s %s\n" % (time.strftime("%H:%M:%S"), line))
            self.log_file.flush()

    def get_request(self):
        sock, addr = self.socket.accept()
        # The handshake happens in the request's thread (on first read):
        # a client that never completes it blocks nobody else.
        return self.ctx.wrap_socket(sock, server_side=True, do_handshake_on_connect=False), addr

    def handle_error(self, request, client_address):
        self.log("error: %s from %s" % (sys.exc_info()[1], client_address))


def main():
    ap = argparse.ArgumentParser(description="fake OAuth2 authorization server for the tests")
    ap.add_argument("--state", required=True)
    ap.add_argument("--cert", required=True)
    ap.add_argument("--key", required=True)
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--client-id", default="smtpfwd-test")
    ap.add_argument("--client-secret")
    ap.add_argument("--user")
    ap.add_argument("--prefix")
    ap.add_argument("--lifetime", type=int)
    ap.add_argument("--rotate", action="store_true")
    ap.add_argument("--scope")
    args = ap.parse_args()

    os.makedirs(args.state, exist_ok=True)
    state = State(args.state, args)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(args.cert, args.key)
    srv = Server(("127.0.0.1", args.port), state, ctx, args)
    srv.log("listening on 127.0.0.1:%d (pid %d)" % (srv.port, os.getpid()))
    portfile = os.path.join(args.state, "port")
    with open(portfile + ".tmp", "w", encoding="ascii") as f:
        f.write("%d\n" % srv.port)
    os.replace(portfile + ".tmp", portfile)

    def stop(signum, frame):
        srv.log("stopped by signal %d" % signum)
        os._exit(0)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    srv.serve_forever()


if __name__ == "__main__":
    main()
