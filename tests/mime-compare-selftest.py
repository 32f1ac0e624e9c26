#!/usr/bin/env python3
"""tests/mime-compare-selftest.py - checks of tests/mime-compare.py itself.

Owns: pairs of messages that must compare equal (the same content in
another transfer encoding, encoded-words, an A-label for a UTF-8 domain,
the fields a server or a conversion adds) and pairs that must differ (a
changed character, a wrong charset label, a lost part, a changed file
name, a missing header field, 8-bit octets or long lines where 7-bit was
expected), so that the round-trip test cannot pass because the comparison
sees nothing. It must not need anything outside the standard library.

Prints one line per check, "ok - TEXT" or "not ok - TEXT" (with "#"
lines of detail), for tests/convert-roundtrip.sh to turn into TAP; exits
1 when a check failed.
"""

import base64
import importlib.util
import os
import quopri
import sys

here = os.path.dirname(os.path.abspath(__file__))
spec = importlib.util.spec_from_file_location("mime_compare", os.path.join(here, "mime-compare.py"))
mc = importlib.util.module_from_spec(spec)
spec.loader.exec_module(mc)

failed = 0


def report(good, text, detail=()):
    global failed
    print("%s - %s" % ("ok" if good else "not ok", text))
    if not good:
        failed += 1
        for d in detail:
            for line in str(d).splitlines():
                print("#   " + line)


def same(text, a, b, **form):
    diffs = mc.form_problems(b, **form) + mc.compare(a, b)
    report(not diffs, "mime-compare: equal: " + text, diffs)


def differ(text, a, b, want=None, **form):
    diffs = mc.form_problems(b, **form) + mc.compare(a, b)
    good = bool(diffs) and (want is None or any(want in d for d in diffs))
    report(good, "mime-compare: differ: " + text,
           diffs or ["no difference found"] if not good else ())


def qp(data):
    return quopri.encodestring(data).replace(b"\n", b"\r\n")


HEAD = b"From: Sender <sender@example.test>\nTo: Recipient <rcpt@example.test>\n" \
       b"Subject: test\nDate: Mon, 07 Dec 2026 10:00:00 +0000\nMessage-ID: <t@example.test>\n"
BODY = "Grüße aus Köln: € 100 ü\nzweite Zeile \n".encode()
plain = HEAD + b"\n" + BODY
plain_qp = HEAD.replace(b"\n", b"\r\n") + b"MIME-Version: 1.0\r\n" \
    b"Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n" \
    + qp(BODY)

# Equal pairs.
same("a message and itself", plain, plain)
same("LF and CRLF line ends", plain, plain.replace(b"\n", b"\r\n"))
same("8-bit UTF-8 and its quoted-printable conversion", plain, plain_qp, want_7bit=True)
same("server fields added", plain,
     b"Return-Path: <sender@example.test>\nDelivered-To: rcpt@example.test\n"
     b"Received: from client by mx.test; Mon, 07 Dec 2026 10:00:01 +0000\n"
     b"X-Spam-Flag: NO\n" + plain)
same("base64 text and 8-bit text", plain,
     HEAD + b"MIME-Version: 1.0\nContent-Type: text/plain; charset=utf-8\n"
     b"Content-Transfer-Encoding: base64\n\n" + base64.encodebytes(BODY))
latin = HEAD + b"\nGr\xfc\xdfe\n"
same("Latin-1 octets and unknown-8bit quoted-printable", latin,
     HEAD + b"MIME-Version: 1.0\nContent-Type: text/plain; charset=unknown-8bit\n"
     b"Content-Transfer-Encoding: quoted-printable\n\nGr=FC=DFe\n", want_7bit=True)
utf8_head = ("From: Jürgen Müller <j@example.test>\nTo: Zoë <z@bücher.example>\n"
             "Subject: Grüße aus Köln\n\nx\n").encode()
same("raw UTF-8 header fields and their encoded-words and A-labels", utf8_head,
     b"From: =?utf-8?q?J=C3=BCrgen_M=C3=BCller?= <j@example.test>\n"
     b"To: =?utf-8?b?Wm/Dqw==?= <z@xn--bcher-kva.example>\n"
     b"Subject: =?utf-8?q?Gr=C3=BC=C3=9Fe?= aus\n =?utf-8?q?K=C3=B6ln?=\nMIME-Version: 1.0\n"
     b"Content-Type: text/plain; charset=us-ascii\n\nx\n", want_7bit=True)
same("folded address fields", utf8_head,
     utf8_head.replace(", ".encode(), b",\n ").replace("Zoë <".encode(), "Zoë\n\t<".encode()))
same("folded address fields with encoded-words", utf8_head,
     b"From: =?utf-8?q?J=C3=BCrgen?=\n =?utf-8?q?_M=C3=BCller?= <j@example.test>\n"
     b"To: =?utf-8?b?Wm/Dqw==?=\n <z@xn--bcher-kva.example>\n"
     b"Subject: =?utf-8?q?Gr=C3=BC=C3=9Fe?= aus\n =?utf-8?q?K=C3=B6ln?=\n\nx\n")
mixed = (b"Subject: m\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=b\n\n"
         b"--b\nContent-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: 8bit\n\n"
         b"\xc3\xa9t\xc3\xa9\n--b\nContent-Type: application/octet-stream\n"
         b"Content-Disposition: attachment; filename=\"\xc3\x9cber.bin\"\n"
         b"Content-Transfer-Encoding: 8bit\n\n\x80\x81\xff\n--b--\n")
mixed_conv = (b"Subject: m\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=b\n\n"
              b"--b\nContent-Type: text/plain; charset=utf-8\n"
              b"Content-Transfer-Encoding: quoted-printable\n\n=C3=A9t=C3=A9\n--b\n"
              b"Content-Type: application/octet-stream\n"
              b"Content-Disposition: attachment; filename*=utf-8''%C3%9Cber.bin\n"
              b"Content-Transfer-Encoding: base64\n\n"
              + base64.encodebytes(b"\x80\x81\xff") + b"--b--\n")
same("multipart parts re-encoded, RFC 2231 file name", mixed, mixed_conv, want_7bit=True)
long_line = HEAD + b"\n" + b"a" * 3000 + b"\n"
same("a long line and its quoted-printable soft breaks", long_line,
     HEAD + b"MIME-Version: 1.0\nContent-Type: text/plain; charset=us-ascii\n"
     b"Content-Transfer-Encoding: quoted-printable\n\n" + quopri.encodestring(b"a" * 3000 + b"\n"),
     want_7bit=True)

cron = b"From: root (Cron Daemon)\nTo: root\nSubject: c\n\nx\n"
diffs = mc.compare(cron, cron.replace(b"root", b"root@mx.test"), qualify="mx.test")
report(not diffs, "mime-compare: equal: addresses qualified by the server (--qualified-by)", diffs)

# Pairs that must differ.
differ("a changed character in the body", plain, plain.replace("Köln".encode(), "Koln".encode()),
       "decoded content")
differ("UTF-8 labelled us-ascii after conversion", plain,
       plain_qp.replace(b"charset=utf-8", b"charset=us-ascii"), "decoded content")
differ("UTF-8 labelled unknown-8bit", plain,
       plain_qp.replace(b"charset=utf-8", b"charset=unknown-8bit"), "decoded content")
differ("a lost line end", plain, plain_qp.replace(b"\r\nzweite", b"zweite"), "decoded content")
differ("a changed Subject", plain, plain.replace(b"Subject: test", b"Subject: tests"), "field subject differs")
differ("a missing Date", plain, plain.replace(b"Date: Mon, 07 Dec 2026 10:00:00 +0000\n", b""), "field date differs")
differ("an added unknown field", plain, b"Keywords: added\n" + plain, "field keywords added")
differ("a changed display name", utf8_head, utf8_head.replace("Zoë".encode(), b"Zoe"), "field to differs")
differ("another domain", utf8_head, utf8_head.replace("bücher".encode(), b"buecher"), "field to differs")
differ("a wrong A-label", utf8_head,
       utf8_head.replace("bücher.example".encode(), b"xn--bcher-kvb.example"), "field to differs")
differ("a space lost between encoded-words of a display name", utf8_head,
       b"From: =?utf-8?q?J=C3=BCrgen?= =?utf-8?q?M=C3=BCller?= <j@example.test>\n"
       b"To: =?utf-8?b?Wm/Dqw==?= <z@xn--bcher-kva.example>\n"
       b"Subject: =?utf-8?q?Gr=C3=BC=C3=9Fe?= aus =?utf-8?q?K=C3=B6ln?=\n\nx\n", "field from differs")
differ("a changed octet of an attachment", mixed, mixed_conv.replace(
    base64.encodebytes(b"\x80\x81\xff"), base64.encodebytes(b"\x80\x81\xfe")), "decoded content")
differ("a changed file name", mixed, mixed_conv.replace(b"%C3%9Cber", b"Uber"), "field content-disposition differs")
differ("a lost part", mixed, mixed_conv.split(b"--b\nContent-Type: application")[0] + b"--b--\n",
       "number of parts")
differ("another content type", mixed, mixed_conv.replace(b"application/octet-stream",
                                                        b"application/x-other"), "content type")
differ("multipart flattened", mixed, plain_qp, "content type")
differ("8-bit octets with --expect-7bit", plain, plain, "8-bit octet", want_7bit=True)
differ("a long line with --expect-7bit", long_line, long_line, "octets long", want_7bit=True)
differ("a long line with --expect-short-lines", long_line, long_line, "octets long",
       short_lines=True)
differ("8-bit header field with --expect-ascii-headers", utf8_head, utf8_head, "header field",
       ascii_headers=True)
diffs = mc.compare(cron, cron.replace(b"root", b"root@mx.test"))
report(bool(diffs), "mime-compare: differ: addresses qualified, without --qualified-by", ["no difference found"])
diffs = mc.compare(cron, cron.replace(b"root", b"root@other.test"), qualify="mx.test")
report(bool(diffs), "mime-compare: differ: addresses qualified by another domain", ["no difference found"])
differ("a dropped X- field of the original",
       b"X-Cron-Env: <A=1>\nX-Cron-Env: <B=2>\n" + plain, b"X-Cron-Env: <A=1>\n" + plain, "field x-cron-env: not all")

sys.exit(1 if failed else 0)
