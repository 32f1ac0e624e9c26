#!/bin/sh
# dlopen-note.sh - the .note.dlopen ELF note (src/dlopen-note.c) read
# back from the built smtpfwd with readelf, as a packaging tool would:
# a SHT_NOTE section that is allocated, not writable, 4-byte aligned,
# holding one note (owner "FDO", type 0x407c0c0a) whose descriptor is a
# NUL-terminated JSON array, zero-padded to 4 bytes; each object has a
# feature, a description, a priority (required, recommended or
# suggested) and a list of sonames without control characters or
# backslash escapes; the sonames are exactly the library files
# `smtpfwd --version` names (the ones configure found, one per library
# built in). Built with --disable-dlopen (--version says "linked"): no
# .note.dlopen section at all.
# TAP (tests/lib.sh); skipped without readelf or python3 or an ELF binary.
here=${top_srcdir:+$top_srcdir/tests}
. "${here:-$(dirname "$0")}/lib.sh"

need_built
need_program readelf
need_program python3
readelf -h "$SMTPFWD" >/dev/null 2>&1 || skip "$SMTPFWD is not an ELF file readelf understands"

lib_tmpdir
"$SMTPFWD" --version > "$TESTDIR/version" || fail_stop "smtpfwd --version"
readelf -S -W "$SMTPFWD" > "$TESTDIR/sections" || fail_stop "readelf -S"

if grep -q ' linked)' "$TESTDIR/version"; then
    check "built with --disable-dlopen: no .note.dlopen section" \
        not grep -q '\.note\.dlopen' "$TESTDIR/sections"
    done_testing
fi

check "a .note.dlopen section in $SMTPFWD" grep -q '\] \.note\.dlopen ' "$TESTDIR/sections" ||
    done_testing
readelf -x .note.dlopen "$SMTPFWD" > "$TESTDIR/hex" 2>&1 ||
    { sed 's/^/# /' "$TESTDIR/hex"; fail_stop "readelf -x .note.dlopen"; }
readelf -h "$SMTPFWD" > "$TESTDIR/header"

# The checks below write "ok TEXT" / "not ok TEXT" lines to
# $TESTDIR/results, which become TAP results here.

python3 - "$TESTDIR" >"$TESTDIR/results" <<'PYEOF'
import json, re, struct, sys

d = sys.argv[1]
def check(cond, what):
    print(('ok ' if cond else 'not ok ') + what.replace('\n', ' '))

# The section header line: [Nr] Name Type Address Off Size ES Flg Lk Inf Al
line = [l for l in open(d + '/sections') if re.search(r'\]\s+\.note\.dlopen\s', l)][0]
f = line.split(']', 1)[1].split()
stype, size, flags, align = f[1], int(f[4], 16), f[6], int(f[-1])
check(stype == 'NOTE', 'section type is NOTE (%s)' % stype)
check('A' in flags and 'W' not in flags and 'X' not in flags,
      'section is allocated and read-only (flags %s)' % flags)
check(align == 4, 'section is 4-byte aligned (%d)' % align)
check(size % 4 == 0, 'section size %d is a multiple of 4' % size)

# The bytes, from readelf -x: "  0xADDR WORD WORD WORD WORD TEXT".
data = b''
for l in open(d + '/hex'):
    m = re.match(r'\s+0x[0-9a-f]+ ((?:[0-9a-f]{2,8} ){1,4})', l + ' ')
    if m:
        data += bytes.fromhex(''.join(m.group(1).split()))
check(len(data) == size, 'read %d bytes of the section' % len(data))
little = 'little endian' in open(d + '/header').read()
end = '<' if little else '>'

namesz, descsz, ntype = struct.unpack(end + 'III', data[:12])
check(ntype == 0x407c0c0a, 'note type 0x%x' % ntype)
check(namesz == 4 and data[12:16] == b'FDO\0', 'owner "FDO" (namesz %d)' % namesz)
desc = data[16:16 + descsz]
pad = data[16 + descsz:]
check(16 + ((descsz + 3) & ~3) == size, 'one note fills the section, padded to 4 bytes')
check(pad == b'\0' * len(pad), 'the padding is zeros')
check(desc.endswith(b'\0') and b'\0' not in desc[:-1], 'descriptor is NUL-terminated')
text = desc[:-1].decode('utf-8')
check(not re.search(r'[\x00-\x1f\x7f]', text), 'no control characters')
check('\\' not in text, 'no backslash escapes')
try:
    doc = json.loads(text)
except ValueError as e:
    doc = None
    check(False, 'descriptor is JSON: %s' % e)
if doc is not None:
    check(isinstance(doc, list) and len(doc) > 0, 'descriptor is a non-empty JSON array')
    found = {}
    for o in doc:
        ok = (isinstance(o, dict) and isinstance(o.get('feature'), str)
              and isinstance(o.get('description'), str) and o['description']
              and o.get('priority') in ('required', 'recommended', 'suggested')
              and isinstance(o.get('soname'), list) and o['soname']
              and all(isinstance(s, str) and s for s in o['soname']))
        check(bool(ok), 'entry has feature, description, priority, soname list: %s' % o)
        if ok:
            for s in o['soname']:
                found[s] = o['feature']
    version = open(d + '/version').read()
    want = set(re.findall(r'(lib[A-Za-z0-9_+-]+\.so\.[0-9.]+) loaded', version))
    check(len(want) > 0, '--version names the libraries loaded at run time: %s' % sorted(want))
    check(set(found) == want, 'the note names exactly them: %s' % sorted(found))
    check(found.get(next((s for s in want if s.startswith('libgnutls')), None)) == 'tls',
          'GnuTLS is the "tls" feature')
    print('# ' + json.dumps(doc))
PYEOF
status=$?
while IFS= read -r line; do
    case $line in
    "not ok "*) not_ok "${line#not ok }" ;;
    "ok "*) ok "${line#ok }" ;;
    *) echo "$line" ;;
    esac
done <"$TESTDIR/results"
check "the checks ran to the end (python3 exit $status)" [ "$status" -eq 0 ]
done_testing
