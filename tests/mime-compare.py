#!/usr/bin/env python3
"""tests/mime-compare.py - does the received message decode to what was sent?

Owns: comparing two messages as a recipient's mail program sees them,
with Python's email package (policy.default) and nothing else of the
standard library's outside it. It must not know anything of smtpfwd's own
code: it checks the requirements of a conversion (8-bit data re-encoded
for a server without 8BITMIME, long lines re-encoded, 8-bit header fields
encoded for a server without SMTPUTF8), not how it is done.

    python3 tests/mime-compare.py [OPTIONS] ORIGINAL RECEIVED

ORIGINAL is the message as given to smtpfwd, RECEIVED the message as a
server stored it (or as it came in its DATA). Both may have LF or CRLF
line ends. They are the same message when:

  - the MIME trees are the same: the content type of every part, the
    number of parts of every multipart, message/rfc822 parts as nested
    messages (compared the same way, header fields included);
  - every leaf decodes to the same content: text/* parts as text (the
    payload decoded from its Content-Transfer-Encoding, then from its
    charset; without a charset parameter 8-bit octets are read as UTF-8
    when they are valid UTF-8; charset unknown-8bit, or one Python does
    not know, compares the octets), other parts as octets (line ends
    compared as LF when the original part was not base64 or
    quoted-printable: 8bit and binary data have canonical CRLF line ends
    on the wire);
  - every header field of the original is in the received message with
    the same decoded value (RFC 2047 encoded-words and RFC 2231
    parameters decoded, folding removed; addresses compared by display
    name, local part and domain, domains after IDNA decoding, so that an
    A-label equals its UTF-8 form); Content-Type and Content-Disposition
    by type and parameters (the boundary excepted). Fields a server adds
    (Received, Return-Path, Delivered-To, Envelope-To, Delivery-Date,
    Authentication-Results, X-*, and Date and Message-ID when the
    original had none) may be added; so may the fields a conversion adds
    (MIME-Version, Content-Transfer-Encoding, and Content-Type
    text/plain on a message that had none). Where the original has a
    field that servers add, its occurrences must all be there.

Options (checks of the received message's form):
  --expect-7bit          only ASCII octets, no line over 998 octets
                         (what a server without 8BITMIME may receive)
  --expect-short-lines   no line over 998 octets (RFC 5322 2.1.1)
  --expect-ascii-headers no 8-bit octet in any header section (what a
                         server without SMTPUTF8 may receive)
  --ignore FIELD         also allow FIELD to be added (repeatable)
  --qualified-by DOMAIN  the server qualifies header addresses that have
                         no domain ("To: root") with DOMAIN: such an
                         address of the original equals LOCAL@DOMAIN
  -q                     print nothing when the messages are the same

Prints each difference ("path: what: original ... received ...") and
exits 1 when there is one, 0 when there is none, 2 on a usage error.
The functions compare() and form_problems() are used by
tests/mime-compare-selftest.py.
"""

import email
import email.policy
import re
import sys
import unicodedata

POLICY = email.policy.default
LINE_MAX = 998

# Fields a receiving server adds (or that a conversion may add), which a
# received message may have where the original did not.
SERVER_FIELDS = {
    "received", "return-path", "delivered-to", "envelope-to", "delivery-date",
    "authentication-results", "arc-seal", "arc-message-signature",
    "arc-authentication-results", "received-spf", "dkim-signature",
}
ADDED_WHEN_MISSING = {"date", "message-id"}
CONVERSION_FIELDS = {"mime-version", "content-transfer-encoding"}
STRUCTURED_PARAMS = {"content-type", "content-disposition"}
ADDRESS_FIELDS = {
    "from", "to", "cc", "bcc", "sender", "reply-to", "resent-from", "resent-to",
    "resent-cc", "resent-bcc", "resent-sender", "disposition-notification-to",
}


def normalize_line_ends(data):
    """The message with LF line ends (CRLF and lone CR stay distinct)."""
    return data.replace(b"\r\n", b"\n")


def parse(data):
    return email.message_from_bytes(normalize_line_ends(data), policy=POLICY)


def _undo_surrogates(value):
    """A raw header value as the parser left it (8-bit octets as
    surrogates) read as UTF-8 (RFC 6532); octets that are not UTF-8 stay
    surrogates, so that equal octets still compare equal."""
    try:
        raw = value.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        return value
    return raw.decode("utf-8", "surrogateescape")


def _domain(domain):
    labels = []
    for label in domain.split("."):
        if label.lower().startswith("xn--"):
            try:
                label = label.encode("ascii").decode("idna")
            except (UnicodeError, ValueError):
                pass
        labels.append(unicodedata.normalize("NFC", label).lower())
    return ".".join(labels)


def _text(s):
    return unicodedata.normalize("NFC", s)


def field_values(msg, name, qualify=""):
    """The decoded values of every NAME field of msg, in order, each a
    string or (for addresses and MIME parameters) a tuple; addresses
    without a domain get qualify as theirs."""
    out = []
    lname = name.lower()
    for n, v in msg.raw_items():
        if n.lower() != lname:
            continue
        # Unfolding (RFC 5322 2.2.3): a line break before white space goes.
        v = re.sub(r"\r?\n(?=[ \t])", "", v)
        out.append(_decode_field(lname, _undo_surrogates(v), qualify))
    return out


# Two encoded-words with only white space between them (RFC 2047 6.2:
# that white space is not shown). Python's email package drops it in
# unstructured text but keeps it in a display name; it is dropped here
# before parsing, so that a display name split into several words decodes
# as the RFC says.
ADJACENT_EW = re.compile(r"(=\?[^?\s]+\?[bBqQ]\?[^?\s]*\?=)[ \t]+(?==\?[^?\s]+\?[bBqQ]\?)")


def _decode_field(lname, value, qualify=""):
    if lname in ADDRESS_FIELDS:
        value = ADJACENT_EW.sub(r"\1", value)
    try:
        h = POLICY.header_factory(lname, value)
    except Exception as e:  # a header the parser cannot take
        return ("unparsable", value, str(e))
    if lname in ADDRESS_FIELDS and hasattr(h, "groups"):
        groups = []
        for g in h.groups:
            addrs = tuple((_text(a.display_name), a.username, _domain(a.domain or qualify))
                          for a in g.addresses)
            groups.append((_text(g.display_name or ""), addrs))
        return ("addresses", tuple(groups))
    if lname in STRUCTURED_PARAMS:
        params = tuple(sorted((k.lower(), _text(str(v))) for k, v in h.params.items()
                              if k.lower() != "boundary"))
        main = getattr(h, "content_type", None) or getattr(h, "content_disposition", "")
        return ("params", str(main).lower(), params)
    return _text(re.sub(r"[ \t]*\n[ \t]*", " ", str(h)).strip())


def _fmt(v):
    return repr(v)


class Diff:
    def __init__(self):
        self.lines = []

    def add(self, path, what, orig=None, recv=None):
        s = "%s: %s" % (path, what)
        if orig is not None or recv is not None:
            s += "\n    original: %s\n    received: %s" % (_fmt(orig), _fmt(recv))
        self.lines.append(s)


def _compare_headers(o, r, path, top, diff, ignore, qualify):
    onames = []
    for n, _ in o.raw_items():
        if n.lower() not in onames:
            onames.append(n.lower())
    rnames = []
    for n, _ in r.raw_items():
        if n.lower() not in rnames:
            rnames.append(n.lower())
    for n in onames:
        if n in CONVERSION_FIELDS:
            continue
        ov = field_values(o, n, qualify)
        rv = field_values(r, n)
        if n in SERVER_FIELDS or n.startswith("x-"):
            missing = list(ov)
            for v in rv:
                if v in missing:
                    missing.remove(v)
            if missing:
                diff.add(path, "header field %s: not all of the original's are there" % n,
                         ov, rv)
        elif ov != rv:
            diff.add(path, "header field %s differs" % n, ov, rv)
    for n in rnames:
        if n in onames or n in CONVERSION_FIELDS or n in ignore:
            continue
        if top and (n in SERVER_FIELDS or n.startswith("x-") or n in ADDED_WHEN_MISSING):
            continue
        if n == "content-type" and not o.is_multipart() and r.get_content_type() == "text/plain" \
                and "content-type" not in onames:
            continue
        diff.add(path, "header field %s added" % n, None, field_values(r, n))


def _leaf_content(part):
    """("text", str) or ("octets", bytes) as a recipient decodes it, and
    whether the part was base64."""
    ctype = part.get_content_type()
    cte = str(part.get("content-transfer-encoding", "7bit")).strip().lower()
    try:
        payload = part.get_payload(decode=True)
    except Exception as e:
        return ("undecodable", str(e)), False
    if payload is None:
        payload = b""
    if not ctype.startswith("text/"):
        return ("octets", payload), cte == "base64"
    payload = normalize_line_ends(payload)
    charset = part.get_param("charset")
    if charset is None:
        # No charset declared: 8-bit octets are UTF-8 when they are.
        try:
            return ("text", _text(payload.decode("utf-8"))), False
        except UnicodeDecodeError:
            return ("octets", payload), False
    if str(charset).lower() == "unknown-8bit":
        return ("octets", payload), False
    try:
        text = part.get_content()
    except LookupError:
        return ("octets", payload), False
    return ("text", _text(text.replace("\r\n", "\n"))), False


def _final_newline(content):
    kind, value = content
    if kind == "text" and value and not value.endswith("\n"):
        return (kind, value + "\n")
    if kind == "octets" and value and not value.endswith(b"\n"):
        return (kind, value + b"\n")
    return content


def _show(content):
    kind, value = content[0], content[1]
    if isinstance(value, (bytes, str)) and len(value) > 120:
        return "%s, %d %s, starting %r" % (kind, len(value),
                                          "octets" if kind == "octets" else "characters",
                                          value[:80])
    return "%s %r" % (kind, value)


def _first_difference(a, b):
    n = 0
    while n < len(a) and n < len(b) and a[n] == b[n]:
        n += 1
    return "first difference at offset %d: original %r, received %r" % (
        n, a[max(0, n - 20):n + 20], b[max(0, n - 20):n + 20])


def _compare_part(o, r, path, top, diff, ignore, qualify):
    ot, rt = o.get_content_type(), r.get_content_type()
    _compare_headers(o, r, path, top, diff, ignore, qualify if top else "")
    if ot != rt:
        diff.add(path, "content type differs", ot, rt)
        return
    if o.is_multipart() != r.is_multipart():
        diff.add(path, "multipart structure differs", o.is_multipart(), r.is_multipart())
        return
    if ot == "message/rfc822" or (o.is_multipart() and ot.startswith("message/")):
        osub, rsub = o.get_payload(), r.get_payload()
        if isinstance(osub, list) and isinstance(rsub, list) and osub and rsub:
            _compare_part(osub[0], rsub[0], path + "/message", True, diff, ignore, "")
        else:
            diff.add(path, "message/rfc822 part not parsed as a message")
        return
    if o.is_multipart():
        op, rp = o.get_payload(), r.get_payload()
        if len(op) != len(rp):
            diff.add(path, "number of parts differs", [p.get_content_type() for p in op],
                     [p.get_content_type() for p in rp])
        for i, (a, b) in enumerate(zip(op, rp)):
            _compare_part(a, b, "%s/%d" % (path, i + 1), False, diff, ignore, "")
        return
    (oc, ob64), (rc, rb64) = _leaf_content(o), _leaf_content(r)
    if oc[0] == rc[0] == "octets" and not (ob64 and rb64):
        # 8bit, binary and quoted-printable data have canonical CRLF line
        # ends on the wire; base64 keeps whatever octets it encodes.
        oc = ("octets", normalize_line_ends(oc[1]))
        rc = ("octets", normalize_line_ends(rc[1]))
    # SMTP cannot carry a message without a final line end: one added
    # to a last line that had none is no difference.
    oc, rc = _final_newline(oc), _final_newline(rc)
    if oc != rc:
        if oc[0] != rc[0]:
            what = "decoded content differs (%s in the original, %s received; charset %r / %r)" % (
                oc[0], rc[0], o.get_param("charset"), r.get_param("charset"))
        else:
            what = "decoded content differs (%s)" % _first_difference(oc[1], rc[1])
        diff.add(path, what, _show(oc), _show(rc))


def compare(original, received, ignore=(), qualify=""):
    """The differences (a list of strings) between two messages given as
    bytes; empty when the received one decodes to what was sent. qualify:
    the domain the server gives top-level header addresses without one."""
    diff = Diff()
    o, r = parse(original), parse(received)
    for m, name in ((o, "original"), (r, "received")):
        for part in m.walk():
            for d in part.defects:
                if type(d).__name__ in ("StartBoundaryNotFoundDefect",
                                        "CloseBoundaryNotFoundDefect",
                                        "MultipartInvariantViolationDefect"):
                    diff.add(name, "MIME structure defect: %s" % type(d).__name__)
    _compare_part(o, r, "message", True, diff, {f.lower() for f in ignore}, qualify)
    return diff.lines


def _header_sections(data):
    """The header sections of every part (the top-level one and those of
    the MIME parts, found by their boundaries) as one bytes string."""
    msg = parse(data)
    heads = []
    for part in msg.walk():
        for n, v in part.raw_items():
            heads.append((n + ": " + v).encode("utf-8", "surrogateescape"))
    return b"\n".join(heads)


def form_problems(received, want_7bit=False, short_lines=False, ascii_headers=False):
    """What is wrong with the received message's form (a list of strings)."""
    out = []
    lines = normalize_line_ends(received).split(b"\n")
    if want_7bit:
        for i, line in enumerate(lines):
            m = re.search(rb"[\x80-\xff]", line)
            if m:
                out.append("line %d has an 8-bit octet (0x%02x) at column %d: %r" % (
                    i + 1, line[m.start()], m.start() + 1, line[:100]))
                break
    if want_7bit or short_lines:
        for i, line in enumerate(lines):
            if len(line) > LINE_MAX:
                out.append("line %d is %d octets long (more than %d): %r..." % (
                    i + 1, len(line), LINE_MAX, line[:60]))
                break
    if ascii_headers and re.search(rb"[\x80-\xff]", _header_sections(received)):
        out.append("a header field has 8-bit octets")
    return out


def main(argv):
    args = list(argv)
    opts = {"want_7bit": False, "short_lines": False, "ascii_headers": False}
    ignore = []
    qualify = ""
    quiet = False
    files = []
    while args:
        a = args.pop(0)
        if a == "--expect-7bit":
            opts["want_7bit"] = True
        elif a == "--expect-short-lines":
            opts["short_lines"] = True
        elif a == "--expect-ascii-headers":
            opts["ascii_headers"] = True
        elif a == "--ignore" and args:
            ignore.append(args.pop(0))
        elif a == "--qualified-by" and args:
            qualify = args.pop(0)
        elif a == "-q":
            quiet = True
        elif a.startswith("-") and a != "-":
            print("mime-compare.py: unknown option %s" % a, file=sys.stderr)
            return 2
        else:
            files.append(a)
    if len(files) != 2:
        print(__doc__.split("\n\n")[1], file=sys.stderr)
        return 2
    data = []
    for f in files:
        with open(f, "rb") as fh:
            data.append(fh.read())
    problems = form_problems(data[1], **opts)
    problems += compare(data[0], data[1], ignore, qualify)
    if problems:
        print("%s and %s differ:" % (files[0], files[1]))
        for p in problems:
            print("  " + p.replace("\n", "\n  "))
        return 1
    if not quiet:
        print("%s and %s decode the same" % (files[0], files[1]))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
