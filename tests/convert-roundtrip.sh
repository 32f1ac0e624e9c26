#!/bin/sh
# tests/convert-roundtrip.sh - what the recipient decodes equals what was
# sent, for every message of tests/data/convert/ and every kind of server.
#
# Owns: the decoding round trips of message conversion, through smtpfwd
# to the scripted server (tests/smtpd-script) whose EHLO reply is chosen
# per mode, and the refusals of signed messages. It checks what the
# requirements say (smtpfwd(1), src/convert.h), never how the converter
# does it: the received DATA is compared with the original by
# tests/mime-compare.py (Python's email package), whose own checks
# (tests/mime-compare-selftest.py) run first.
#
# Modes, each for every message (the refuse-*.eml ones apart):
#   no-8bitmime  EHLO without 8BITMIME and SMTPUTF8: the DATA is 7-bit
#                ASCII with no line over 998 octets; MAIL FROM has neither
#                BODY=8BITMIME nor SMTPUTF8
#   8bitmime     8BITMIME, no SMTPUTF8: no line over 998 octets, no 8-bit
#                octet in a header section; BODY=8BITMIME exactly when
#                8-bit octets arrive; no SMTPUTF8
#   smtputf8     8BITMIME and SMTPUTF8: no line over 998 octets;
#                BODY=8BITMIME exactly when 8-bit octets arrive, SMTPUTF8
#                whenever the top-level header section keeps 8-bit octets
#                and only when a header section does
#   7bit-option  8BITMIME and SMTPUTF8 offered, but smtpfwd -B 7BIT: as
#                no-8bitmime
# and in each the received message decodes to the original
# (mime-compare.py).
# Signed messages (refuse-dkim.eml: DKIM-Signature; refuse-signed.eml:
# multipart/signed with an 8-bit part): to a server without 8BITMIME and
# with -B 7BIT, exit 65, no DATA, and stderr names the signature; to a
# server with 8BITMIME, delivered unchanged.
#
# Exit 77 (skipped) without python3.
# shellcheck source=tests/lib.sh
. "${top_srcdir:-.}/tests/lib.sh"
need_built "$SMTPD"
command -v "${PYTHON:-python3}" >/dev/null 2>&1 || skip_all "python3 is not installed"
PYTHON=${PYTHON:-python3}
lib_tmpdir
lib_private_env

here=${top_srcdir:-.}/tests
data=$here/data/convert
mc=$here/mime-compare.py
rcpt=rcpt@example.test

# 1. The comparison itself.
"$PYTHON" "$here/mime-compare-selftest.py" >"$TESTDIR/selftest.out" 2>&1
st=$?
nl='
'
pending=
while IFS= read -r line; do
    case $line in
    "ok - "*) [ -z "$pending" ] || not_ok "$pending"; pending=; ok "${line#ok - }" ;;
    "not ok - "*) [ -z "$pending" ] || not_ok "$pending"; pending=${line#not ok - } ;;
    "#"*) pending="$pending$nl${line#\#   }" ;;
    *) [ -z "$pending" ] || not_ok "$pending"; pending=; not_ok "mime-compare-selftest: $line" ;;
    esac
done <"$TESTDIR/selftest.out"
[ -z "$pending" ] || not_ok "$pending"
[ "$st" -le 1 ] || not_ok "mime-compare-selftest.py exits $st"

# extract LOG OUT: the message of the one DATA in the server's log (dot
# stuffing undone) into OUT, its MAIL FROM line into OUT.mail, and facts
# about it as shell assignments into OUT.facts: nmsg (how many DATA
# transactions), body8 (any 8-bit octet), tophdr8 (8-bit in the top-level
# header section), anyhdr8 (8-bit in any header section).
cat >"$TESTDIR/extract.py" <<'EOF'
import importlib.util, re, sys
spec = importlib.util.spec_from_file_location("mc", sys.argv[3])
mc = importlib.util.module_from_spec(spec)
spec.loader.exec_module(mc)
log, out = sys.argv[1], sys.argv[2]
lines = open(log, "rb").read().split(b"\r\n")
msgs, mails, cur, mail, in_data = [], [], None, b"", False
for line in lines:
    if in_data:
        if line == b".":
            msgs.append(b"".join(cur))
            mails.append(mail)
            in_data = False
        else:
            cur.append((line[1:] if line.startswith(b".") else line) + b"\r\n")
    elif line.upper().startswith(b"MAIL FROM:"):
        mail = line
    elif line.upper() == b"DATA":
        cur, in_data = [], True
msg = msgs[0] if msgs else b""
open(out, "wb").write(msg)
open(out + ".mail", "wb").write((mails[0] if mails else b"") + b"\n")
top = msg.split(b"\r\n\r\n", 1)[0]
yn = lambda b: "yes" if b else "no"
with open(out + ".facts", "w") as f:
    f.write("nmsg=%d\n" % len(msgs))
    f.write("body8=%s\n" % yn(re.search(rb"[\x80-\xff]", msg)))
    f.write("tophdr8=%s\n" % yn(re.search(rb"[\x80-\xff]", top)))
    f.write("anyhdr8=%s\n" % yn(msg and re.search(rb"[\x80-\xff]", mc._header_sections(msg))))
EOF

# untouched.py ORIGINAL ORIGINAL MC: "hdr8" when ORIGINAL has 8-bit
# octets in a header section, "long" when it has a line over 998 octets
# (what a server with 8BITMIME still needs converted), else nothing.
# untouched.py --check ORIGINAL RECEIVED MC: exit 0 when RECEIVED has
# ORIGINAL's body octet for octet (LF line ends, a final one added) and
# each of its header lines (what smtpfwd may add aside).
cat >"$TESTDIR/untouched.py" <<'EOF'
import importlib.util, re, sys
spec = importlib.util.spec_from_file_location("mc", sys.argv[-1])
mc = importlib.util.module_from_spec(spec)
spec.loader.exec_module(mc)
def split(data):
    data = data.replace(b"\r\n", b"\n")
    head, _, body = data.partition(b"\n\n")
    if body and not body.endswith(b"\n"):
        body += b"\n"
    return head.split(b"\n"), body
orig = open(sys.argv[-3], "rb").read()
if sys.argv[1] != "--check":
    long_line = any(len(l) > mc.LINE_MAX for l in orig.replace(b"\r\n", b"\n").split(b"\n"))
    hdr8 = re.search(rb"[\x80-\xff]", mc._header_sections(orig))
    print("hdr8" if hdr8 else "", "long" if long_line else "")
    sys.exit(0)
(oh, ob), (rh, rb) = split(orig), split(open(sys.argv[-2], "rb").read())
missing = [l for l in oh if l not in rh]
if ob != rb or missing:
    print("body %s; header lines missing: %r" % ("the same" if ob == rb else "changed", missing))
    sys.exit(1)
EOF

# ehlo_for MODE: the server's EHLO reply.
ehlo_for() {
    case $1 in
    no-8bitmime) printf '%s\n' '250-mx.test\n250-PIPELINING\n250-SIZE 10240000\n250 ENHANCEDSTATUSCODES' ;;
    8bitmime) printf '%s\n' '250-mx.test\n250-PIPELINING\n250-8BITMIME\n250-SIZE 10240000\n250 ENHANCEDSTATUSCODES' ;;
    *) printf '%s\n' '250-mx.test\n250-PIPELINING\n250-8BITMIME\n250-SMTPUTF8\n250-SIZE 10240000\n250 ENHANCEDSTATUSCODES' ;;
    esac
}

# utf8_declared_right DECLARED TOP ANY: SMTPUTF8 is declared (DECLARED
# yes) when the top-level header section keeps 8-bit octets (TOP yes), and
# only when some header section has them (ANY yes).
utf8_declared_right() {
    { [ "$2" = no ] || [ "$1" = yes ]; } && { [ "$1" = no ] || [ "$3" = yes ]; }
}

# deliver NAME MODE FILE: FILE through smtpfwd to a fresh server for MODE;
# sets rs (exit status), d (the case's directory: err, got, got.mail,
# got.facts).
deliver() {
    d=$TESTDIR/$1.$2
    mkdir -p "$d" || exit 99
    SMTPD_NAME=$1.$2 smtpd_start "ehlo $(ehlo_for "$2")"
    rc=$(write_config "queue off
queue_dir $d/spool")
    b=
    [ "$2" = 7bit-option ] && b="-B 7BIT"
    # shellcheck disable=SC2086
    "$SMTPFWD" -C "$rc" $b -i "$rcpt" <"$3" >"$d/out" 2>"$d/err"
    rs=$?
    smtpd_stop
    "$PYTHON" "$TESTDIR/extract.py" "$TESTDIR/$1.$2.log" "$d/got" "$mc" || exit 99
    nmsg='' body8='' tophdr8='' anyhdr8=''
    # shellcheck disable=SC1091
    . "$d/got.facts"
}

# 2. The round trips.
for f in "$data"/*.eml; do
    name=$(basename "$f" .eml)
    case $name in refuse-*) continue ;; esac
    for mode in no-8bitmime 8bitmime smtputf8 7bit-option; do
        t="$name, $mode"
        deliver "$name" "$mode" "$f"
        if [ "$rs" -ne 0 ]; then
            not_ok "$t: exit status $rs, expected 0$nl$(head -5 "$d/err")"
            continue
        fi
        ok "$t: exit status 0"
        if [ "$nmsg" -ne 1 ]; then
            not_ok "$t: the server received one message ($nmsg)"
            continue
        fi
        mail=$(cat "$d/got.mail")
        case $mode in
        no-8bitmime | 7bit-option)
            form=--expect-7bit
            case $mail in
            *BODY=8BITMIME* | *SMTPUTF8*) not_ok "$t: MAIL FROM declares neither BODY=8BITMIME nor SMTPUTF8$nl$mail" ;;
            *) ok "$t: MAIL FROM declares neither BODY=8BITMIME nor SMTPUTF8" ;;
            esac ;;
        8bitmime | smtputf8)
            form=--expect-short-lines
            case $mail in *BODY=8BITMIME*) decl=yes ;; *) decl=no ;; esac
            check "$t: BODY=8BITMIME declared ($decl) exactly when 8-bit octets are sent ($body8)" \
                [ "$decl" = "$body8" ]
            case $mail in *SMTPUTF8*) utf=yes ;; *) utf=no ;; esac
            if [ "$mode" = 8bitmime ]; then
                form="$form --expect-ascii-headers"
                check "$t: no SMTPUTF8 to a server without it" [ "$utf" = no ]
            else
                check "$t: SMTPUTF8 declared ($utf) when the header keeps UTF-8 ($tophdr8), and only when a header section has it ($anyhdr8)" \
                    utf8_declared_right "$utf" "$tophdr8" "$anyhdr8"
            fi ;;
        esac
        # Nothing to convert for this server: sent as it is (only long
        # lines, and UTF-8 in header fields without SMTPUTF8, are converted
        # when the server has 8BITMIME).
        needs=$("$PYTHON" "$TESTDIR/untouched.py" "$f" "$f" "$mc")
        case $mode:$needs in
        smtputf8:*long* | 8bitmime:*long* | 8bitmime:*hdr8*) ;;
        smtputf8:* | 8bitmime:*)
            if "$PYTHON" "$TESTDIR/untouched.py" --check "$f" "$d/got" "$mc" >"$d/untouched" 2>&1; then
                ok "$t: nothing to convert, sent as it is"
            else
                not_ok "$t: nothing to convert, sent as it is$nl$(cat "$d/untouched")"
            fi ;;
        esac
        # shellcheck disable=SC2086
        if "$PYTHON" "$mc" -q $form "$f" "$d/got" >"$d/compare" 2>&1; then
            ok "$t: the received message decodes to the original"
        else
            not_ok "$t: the received message decodes to the original$nl$(head -30 "$d/compare")"
        fi
    done
done

# 3. Signed messages.
for name in refuse-dkim refuse-signed; do
    case $name in
    refuse-dkim) sig=DKIM-Signature ;;
    refuse-signed) sig=multipart/signed ;;
    esac
    for mode in no-8bitmime 7bit-option; do
        t="$name, $mode"
        deliver "$name" "$mode" "$data/$name.eml"
        if [ "$rs" -eq 65 ]; then ok "$t: exit status 65"; else
            not_ok "$t: exit status $rs, expected 65$nl$(head -5 "$d/err")"
        fi
        check "$t: nothing received (no DATA)" [ "$nmsg" -eq 0 ]
        if grep -q -F -e "$sig" "$d/err"; then ok "$t: the error names the signature ($sig)"; else
            not_ok "$t: the error names the signature ($sig)$nl$(head -5 "$d/err")"
        fi
        check "$t: nothing queued" [ "$(count_in "$d/spool/new")" -eq 0 ]
    done
    # With 8BITMIME nothing needs converting: sent as it is.
    t="$name, 8bitmime"
    deliver "$name" 8bitmime "$data/$name.eml"
    if [ "$rs" -eq 0 ]; then ok "$t: exit status 0"; else
        not_ok "$t: exit status $rs, expected 0$nl$(head -5 "$d/err")"
    fi
    tr -d '\r' <"$d/got" >"$d/got.lf"
    if cmp -s "$data/$name.eml" "$d/got.lf"; then ok "$t: sent unchanged"; else
        not_ok "$t: sent unchanged$nl$(diff "$data/$name.eml" "$d/got.lf" | head -10)"
    fi
done

done_testing
