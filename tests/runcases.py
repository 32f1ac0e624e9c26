#!/usr/bin/env python3
"""runcases.py - runs the data-file protocol cases in tests/data (format:
tests/data/README) against $SMTPFWD with the scripted server $SMTPD, and
prints TAP.

Owns: parsing case files, substitutions, generating the test certificates
once per run (tests/certs.sh, into a temporary directory removed at the
end), starting one smtpd-script per case on a random port in a fresh
temporary directory, running smtpfwd with a scrubbed environment, comparing exit status / stderr / stdout / the exact
bytes the server received / server events / files, and reporting
differences as TAP diagnostics. Multi-step cases (sections NAMEn for step
n, the server down in some steps on a port the harness keeps bound, the
spool kept between steps) and the spool checks (<expect-spool>,
<expect-entry-*>, <expect-queue>, <expect-json>) are described in
tests/data/README. Python 3 standard library only.

Usage: runcases.py [-v] [-j N] [-k] DATADIR [testNNNN ...]
  -v     show the full transcript (server log, events, stderr, stdout) of a
         failing case
  -j N   run N cases in parallel (default: CPU count)
  -k     keep the temporary directories (printed as diagnostics)
"""
import argparse
import concurrent.futures
import difflib
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import base64
import atexit

DEFAULT_TIMEOUT = 20.0

SECTION_OPEN = re.compile(rb'^<([a-z][a-z0-9-]*)((?:\s+[a-z][a-z0-9-]*="[^"]*")*)\s*>\s*$')
ATTR = re.compile(rb'([a-z][a-z0-9-]*)="([^"]*)"')


class CaseError(Exception):
    """The case file itself is broken (reported as a failure)."""


class Section:
    def __init__(self, name, attrs, body):
        self.name = name
        self.attrs = attrs
        self.body = body      # bytes, each line ending in \n


INCLUDE = re.compile(rb'%INCLUDE ([A-Za-z0-9][A-Za-z0-9._-]*)')


def expand_includes(lines, incdir, seen=()):
    """The lines of a <config> body with each line "%INCLUDE NAME" replaced
    by the lines of the file incdir/NAME (which may include others)."""
    out = []
    for line in lines:
        m = INCLUDE.fullmatch(line)
        if not m:
            out.append(line)
            continue
        name = m.group(1).decode()
        if name in seen:
            raise CaseError('%%INCLUDE %s: included from itself' % name)
        try:
            with open(os.path.join(incdir, name), 'rb') as f:
                inc = f.read()
        except OSError as e:
            raise CaseError('%%INCLUDE %s: %s' % (name, e))
        inc_lines = inc.split(b'\n')
        if inc_lines and inc_lines[-1] == b'':
            inc_lines.pop()
        out += expand_includes(inc_lines, incdir, seen + (name,))
    return out


def parse_case(path):
    with open(path, 'rb') as f:
        data = f.read()
    sections = []
    cur = None
    lines = data.split(b'\n')
    if lines and lines[-1] == b'':
        lines.pop()
    for lineno, line in enumerate(lines, 1):
        if cur is None:
            if not line.strip() or line.startswith(b'#'):
                continue
            m = SECTION_OPEN.match(line)
            if not m:
                raise CaseError('%s:%d: expected a <section>' % (path, lineno))
            attrs = {k.decode(): v.decode() for k, v in ATTR.findall(m.group(2))}
            cur = Section(m.group(1).decode(), attrs, [])
            continue
        if line.rstrip() == b'</' + cur.name.encode() + b'>':
            if re.fullmatch(r'config\d*', cur.name):
                cur.body = expand_includes(cur.body,
                                           os.path.join(os.path.dirname(path), 'include'))
            body = b''.join(l + b'\n' for l in cur.body)
            if cur.attrs.get('nonewline') == 'yes' and body.endswith(b'\n'):
                body = body[:-1]
            cur.body = body
            sections.append(cur)
            cur = None
            continue
        cur.body.append(line)
    if cur is not None:
        raise CaseError('%s: section <%s> is not closed' % (path, cur.name))
    return sections


def get(sections, name):
    for s in sections:
        if s.name == name:
            return s
    return None


def get_all(sections, name):
    return [s for s in sections if s.name == name]


def parse_info(sections):
    info = {}
    s = get(sections, 'info')
    if s:
        for line in s.body.decode('utf-8', 'replace').splitlines():
            if ':' in line:
                k, v = line.split(':', 1)
                info[k.strip()] = v.strip()
    return info


def substitute(data, ctx):
    """%PORT %PORTB %SOCKSPORT %TMP %SRCDIR %CERTS %CA %FPR %BADFPR %CR %LF %NUL %TAB %HEX{..}
    %REPEAT{N,text} %B64{text} %%"""
    def hexrep(m):
        h = re.sub(rb'\s', b'', m.group(1))
        return bytes.fromhex(h.decode())

    def reprep(m):
        return m.group(2) * int(m.group(1))

    data = re.sub(rb'%REPEAT\{(\d+),([^}]*)\}', reprep, data)
    data = re.sub(rb'%HEX\{([0-9a-fA-F\s]*)\}', hexrep, data)
    table = {
        b'%PORT': str(ctx.get('port', '0')).encode(),
        b'%PORTB': str(ctx.get('portb', '0')).encode(),
        b'%SOCKSPORT': str(ctx.get('socksport', '0')).encode(),
        b'%TMP': ctx['tmp'].encode(),
        b'%SRCDIR': ctx['srcdir'].encode(),
        b'%CR': b'\r', b'%LF': b'\n', b'%NUL': b'\0', b'%TAB': b'\t',
        b'%%': b'%',
        b'%CERTS': ctx.get('certs', '/nonexistent').encode(),
        b'%CA': os.path.join(ctx.get('certs', '/nonexistent'), 'ca.pem').encode(),
        b'%FPR': ctx.get('fpr', '').encode(),
        b'%BADFPR': ctx.get('badfpr', '').encode(),
        b'%QIDS': ctx.get('qids', '').encode(),
        b'%QID': ctx.get('qid', '').encode(),
    }
    # %% first in the alternation: "%%CA" is a percent sign and "CA".
    data = re.sub(rb'%(?:%|PORTB|PORT|SOCKSPORT|TMP|SRCDIR|CERTS|CA|FPR|BADFPR|CR|LF|NUL|TAB|QIDS|QID)',
                  lambda m: table[m.group(0)], data)
    # %B64{text} last, so that %NUL etc. inside it are already bytes.
    return re.sub(rb'%B64\{([^}]*)\}', lambda m: base64.b64encode(m.group(1)), data)


def apply_strip(data, rules):
    """rules: list of bytes; "REGEX" drops matching lines, "s/REGEX/REPL/"
    replaces within lines. Lines are split after \\n, keeping endings."""
    if not rules:
        return data
    out = []
    for line in data.splitlines(keepends=True):
        body = line.rstrip(b'\r\n')
        ending = line[len(body):]
        drop = False
        for r in rules:
            if r.startswith(b's/') and r.endswith(b'/') and r.count(b'/') >= 3:
                pat, repl = r[2:-1].split(b'/', 1)
                body = re.sub(pat, repl, body)
            elif re.search(r, body):
                drop = True
                break
        if not drop:
            out.append(body + ending)
    return b''.join(out)


def strip_rules(sections, name, ctx=None):
    s = get(sections, name)
    if not s:
        return []
    body = substitute(s.body, ctx) if ctx else s.body
    return [l for l in body.split(b'\n') if l]


def crlf_lines(body):
    """Each line of the section becomes a CRLF line."""
    if not body:
        return b''
    lines = body.split(b'\n')
    if lines[-1] == b'':
        lines.pop()
    return b''.join(l + b'\r\n' for l in lines)


def show(b):
    return b.decode('utf-8', 'backslashreplace')


def visible(b):
    """Make CR and other controls visible for diffs."""
    s = b.decode('utf-8', 'backslashreplace')
    s = s.replace('\r', '\\r').replace('\0', '\\0').replace('\t', '\\t')
    return s


def diff(label, expected, actual):
    e = visible(expected).split('\n')
    a = visible(actual).split('\n')
    d = difflib.unified_diff(e, a, 'expected ' + label, 'actual ' + label, lineterm='', n=3)
    return [label + ' differs:'] + list(d)


_features = None


def smtpfwd_features(smtpfwd):
    global _features
    if _features is None:
        try:
            p = subprocess.run([smtpfwd, '--version'], stdin=subprocess.DEVNULL,
                               capture_output=True, timeout=10)
            _features = p.stdout.decode('utf-8', 'replace').lower()
        except Exception:
            _features = ''
    return _features


_certs_lock = threading.Lock()
_certs = None       # (dir or None, reason, fpr, badfpr)


def test_certs(srcdir):
    """Generate the test certificates once per run (tests/certs.sh)."""
    global _certs
    with _certs_lock:
        if _certs is None:
            d = tempfile.mkdtemp(prefix='smtpfwd-certs-')
            atexit.register(shutil.rmtree, d, True)
            script = os.path.join(srcdir, 'tests', 'certs.sh')
            try:
                p = subprocess.run(['sh', script, d], stdin=subprocess.DEVNULL,
                                   capture_output=True, timeout=120)
                rc, err = p.returncode, show(p.stderr).strip()
            except (OSError, subprocess.TimeoutExpired) as e:
                rc, err = 99, str(e)
            if rc == 0:
                fpr = read_file(os.path.join(d, 'server.sha256')).decode().strip()
                bad = read_file(os.path.join(d, 'untrusted.sha256')).decode().strip()
                _certs = (d, '', fpr, bad)
            else:
                _certs = (None, err or 'tests/certs.sh failed (%d)' % rc, '', '')
        return _certs


def needs_certs(sections):
    """A case needs the certificates when it names them or its server
    speaks TLS."""
    for s in sections:
        if re.search(rb'%(CERTS|CA|FPR|BADFPR)', s.body) or any(
                re.search(r'%(CERTS|CA|FPR|BADFPR)', v) for v in s.attrs.values()):
            return True
    srv = get(sections, 'server')
    return bool(srv and re.search(rb'(?m)^\s*(starttls|implicit-tls)\s*$', srv.body))


def case_env(tmp, extra):
    home = os.path.join(tmp, 'home')
    env = {
        'PATH': os.environ.get('PATH', '/usr/bin:/bin'),
        'HOME': home,
        'USER': os.environ.get('USER', 'tester'),
        'LOGNAME': os.environ.get('LOGNAME', os.environ.get('USER', 'tester')),
        'XDG_CONFIG_HOME': os.path.join(home, '.config'),
        'XDG_STATE_HOME': os.path.join(home, '.local', 'state'),
        'XDG_DATA_HOME': os.path.join(home, '.local', 'share'),
        'XDG_CACHE_HOME': os.path.join(home, '.cache'),
        'XDG_RUNTIME_DIR': os.path.join(tmp, 'run'),
        'TMPDIR': tmp,
        'SMTPFWD_SYSCONF': '',
        'LANG': 'C', 'LC_ALL': 'C', 'LANGUAGE': '', 'TZ': 'UTC',
    }
    for k in ('ASAN_OPTIONS', 'UBSAN_OPTIONS', 'LSAN_OPTIONS', 'VALGRIND_OPTS'):
        if k in os.environ:
            env[k] = os.environ[k]
    env.update(extra)
    return env


def read_file(path):
    try:
        with open(path, 'rb') as f:
            return f.read()
    except FileNotFoundError:
        return b''


def start_server(smtpd, tmp, script, certs=None, suffix='', sock=None):
    """Start smtpd-script; with sock (a bound, not listening socket: see
    PortHolder) it listens on that socket's port instead of a new one.
    Its files are server{suffix}.log, .events, .stderr."""
    tls = []
    if certs:
        tls = ['--tls-cert', os.path.join(certs, 'server.pem'),
               '--tls-key', os.path.join(certs, 'server-key.pem')]
    log = ['--log', os.path.join(tmp, 'server%s.log' % suffix)]
    return start_scripted([smtpd], 'smtpd-script', tmp, 'server' + suffix, script,
                          log + tls, sock)


def start_scripted(argv, what, tmp, stem, script, extra, sock):
    """Start a scripted server (smtpd-script, socks5-server.py): argv, then
    its script in {stem}.script, --events {stem}.events, the port file
    {stem}.port and extra; standard error in {stem}.stderr; with sock
    (PortHolder.take()) it listens on that socket. Waits until it is
    ready (the port file appears, atomically renamed). Returns (proc,
    port)."""
    script_path = os.path.join(tmp, stem + '.script')
    with open(script_path, 'wb') as f:
        f.write(script)
    port_file = os.path.join(tmp, stem + '.port')
    pass_fds = ()
    if sock is not None:
        extra = extra + ['--listen-fd', str(sock.fileno())]
        pass_fds = (sock.fileno(),)
    errpath = os.path.join(tmp, stem + '.stderr')
    with open(errpath, 'wb') as errf:
        proc = subprocess.Popen(argv + ['--script', script_path,
                                        '--events', os.path.join(tmp, stem + '.events'),
                                        '--port-file', port_file] + extra,
                                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                stderr=errf, pass_fds=pass_fds)
    deadline = time.monotonic() + 10
    while not os.path.exists(port_file):
        if proc.poll() is not None:
            raise CaseError('%s exited with %d: %s' % (
                what, proc.returncode, show(read_file(errpath))))
        if time.monotonic() > deadline:
            proc.kill()
            raise CaseError('%s did not become ready' % what)
        time.sleep(0.005)
    with open(port_file) as f:
        return proc, int(f.read().strip())


def stop_server(proc):
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        return False
    return True


def start_socks(args, tmp, script, suffix='', sock=None):
    """Start tests/socks5-server.py with the case's <socks> script; with
    sock (PortHolder.take()) on that socket's port. Its files are
    socks{suffix}.script, .events, .stderr. Returns (proc, port)."""
    server = os.path.join(args.srcdir, 'tests', 'socks5-server.py')
    return start_scripted([sys.executable, server], 'socks5-server.py', tmp,
                          'socks' + suffix, script, [], sock)


def socks_up(sections):
    s = get(sections, 'socks')
    return s is not None and s.attrs.get('down') != 'yes'


def run_case(path, args):
    """Returns (status, name, diagnostics) with status 'ok', 'not ok' or
    'skip' (name holds the reason then)."""
    base = os.path.basename(path)
    try:
        sections = parse_case(path)
    except (CaseError, OSError) as e:
        return 'not ok', base, [str(e)]
    info = parse_info(sections)
    name = info.get('name', '')
    kw = get(sections, 'keywords')
    if kw:
        feats = smtpfwd_features(args.smtpfwd)
        for k in kw.body.decode().split():
            if k.lower() not in feats:
                return 'skip', '%s: smtpfwd built without %s' % (base, k), []
    ctx_certs = {}
    if needs_certs(sections):
        cdir, reason, fpr, badfpr = test_certs(args.srcdir)
        if not cdir:
            return 'skip', '%s: no test certificates: %s' % (base, reason), []
        ctx_certs = {'certs': cdir, 'fpr': fpr, 'badfpr': badfpr}
    tmp = tempfile.mkdtemp(prefix='smtpfwd-%s-' % base)
    ctx = {'tmp': tmp, 'srcdir': args.srcdir}
    ctx.update(ctx_certs)
    diags = []
    try:
        status, diags = execute(sections, info, ctx, args)
    except CaseError as e:
        status, diags = 'not ok', [str(e)]
    if args.keep:
        diags.append('kept ' + tmp)
    else:
        shutil.rmtree(tmp, ignore_errors=True)
    return status, '%s %s' % (base, name), diags


STEP_NAME = re.compile(r'^(.*[a-z-])([0-9]+)$')
# Sections a later step takes from step 1 when it has no own version.
INHERITED = ('info', 'keywords', 'config', 'env', 'strip', 'strip-stderr', 'strip-stdout',
             'strip-file', 'strip-queue', 'server', 'serverb', 'socks')
# The servers (and the SOCKS proxy): a later step without its own script
# has the one of the step before.
SERVERS = ('server', 'serverb', 'socks')


def split_steps(sections):
    """Multi-step cases: a section "NAMEn" (n >= 2) belongs to step n, an
    unsuffixed one to step 1. Returns a list of per-step section lists
    with the suffixes removed; later steps inherit INHERITED sections
    (the server script from the step before)."""
    plain, numbered = [], {}
    for sec in sections:
        m = STEP_NAME.match(sec.name)
        if m and int(m.group(2)) >= 2:
            numbered.setdefault(int(m.group(2)), []).append(
                Section(m.group(1), sec.attrs, sec.body))
        elif m:
            raise CaseError('section <%s>: steps are numbered from 2' % sec.name)
        else:
            plain.append(sec)
    nsteps = max(numbered) if numbered else 1
    steps = [plain]
    for n in range(2, nsteps + 1):
        own = numbered.get(n, [])
        names = {x.name for x in own}
        view = list(own)
        for x in plain:
            if x.name in INHERITED and x.name not in names and x.name not in SERVERS:
                view.append(x)
        for srvname in SERVERS:
            if srvname not in names:
                prev = get(steps[-1], srvname)
                if prev is not None:
                    view.append(prev)
        steps.append(view)
    return steps


class PortHolder:
    """Keeps one loopback port for a multi-step case, from its first step
    to its last. The holder's own socket stays bound (never listening) the
    whole time, so that no other process gets the port between steps
    (neither a server binding port 0 nor a client's ephemeral port); while
    a step's server is up it listens on a second socket bound to the same
    port (SO_REUSEPORT, same user), handed to smtpd-script (--listen-fd).
    While the server is down nothing listens: connections are refused."""

    def __init__(self):
        import socket
        self.socket_mod = socket
        self.sock = self._bound(0)
        self.port = self.sock.getsockname()[1]

    def _bound(self, port):
        socket = self.socket_mod
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        try:
            s.bind(('127.0.0.1', port))
        except OSError as e:
            s.close()
            raise CaseError('cannot bind port %d again: %s' % (port, e))
        return s

    def take(self):
        """A socket bound to the port for smtpd-script (the caller closes
        it after the server started, so that the listener dies with the
        server)."""
        return self._bound(self.port)

    def close(self):
        if self.sock is not None:
            self.sock.close()
            self.sock = None


def server_down(sections, name='server'):
    srv = get(sections, name)
    if name == 'serverb' and srv is None:
        return True         # no second server: %PORTB refuses connections
    return bool(srv is not None and srv.attrs.get('down') == 'yes')


def has_serverb(sections):
    """The case has a second server, or names its port (without a
    <serverb>, %PORTB is a port that refuses connections)."""
    return any(STEP_NAME.sub(r'\1', sec.name) == 'serverb' or b'%PORTB' in sec.body
               for sec in sections)


def execute(sections, info, ctx, args):
    tmp = ctx['tmp']
    for d in ('home', 'home/.config', 'home/.local/state', 'run'):
        os.makedirs(os.path.join(tmp, d), mode=0o700, exist_ok=True)

    steps = split_steps(sections)
    two = has_serverb(sections)
    if len(steps) == 1 and not server_down(steps[0]) and not two:
        srv = get(sections, 'server')
        script = substitute(srv.body, ctx) if srv else b''
        proc, port = start_server(args.smtpd, tmp, script, ctx.get('certs'))
        ctx['port'] = port
        socks = None
        try:
            if socks_up(sections):
                socks, ctx['socksport'] = start_socks(
                    args, tmp, substitute(get(sections, 'socks').body, ctx))
                ctx['socks_proc'] = socks
            elif get(sections, 'socks') is not None:
                holder = PortHolder()       # a port where nothing listens
                ctx['socksport'] = holder.port
                ctx['socks_holder'] = holder
            return run_client(sections, info, ctx, args, proc)
        finally:
            stop_server(proc)
            if socks is not None:
                stop_server(socks)
            if ctx.get('socks_holder'):
                ctx['socks_holder'].close()

    holder = PortHolder()
    ctx['port'] = holder.port
    # A second server (<serverb>, %PORTB: a fallback smarthost) on a port
    # of its own, held the same way.
    holderb = PortHolder() if two else None
    ctx['portb'] = holderb.port if two else 0
    sholder = None
    if any(get(v, 'socks') is not None for v in steps):
        sholder = PortHolder()
        ctx['socksport'] = sholder.port
    all_diags = []
    try:
        for n, view in enumerate(steps, 1):
            suffix = '' if n == 1 else str(n)
            proc = None
            ctx['procb'] = None
            socks = None
            ctx['socks_proc'] = None
            if socks_up(view):
                sock = sholder.take()
                try:
                    socks, _ = start_socks(args, tmp, substitute(get(view, 'socks').body, ctx),
                                           suffix, sock)
                finally:
                    sock.close()
                ctx['socks_proc'] = socks
            try:
                if not server_down(view):
                    srv = get(view, 'server')
                    script = substitute(srv.body, ctx) if srv else b''
                    sock = holder.take()
                    try:
                        proc, _ = start_server(args.smtpd, tmp, script, ctx.get('certs'),
                                               suffix, sock)
                    finally:
                        sock.close()
                if two and not server_down(view, 'serverb'):
                    srv = get(view, 'serverb')
                    script = substitute(srv.body, ctx)
                    sock = holderb.take()
                    try:
                        ctx['procb'], _ = start_server(args.smtpd, tmp, script,
                                                       ctx.get('certs'), 'b' + suffix, sock)
                    finally:
                        sock.close()
                status, diags = run_client(view, info, ctx, args, proc, suffix, first=(n == 1))
            finally:
                if proc is not None:
                    stop_server(proc)
                if ctx.get('procb') is not None:
                    stop_server(ctx['procb'])
                    ctx['procb'] = None
                if socks is not None:
                    stop_server(socks)
            all_diags += ['step %d: %s' % (n, d) for d in diags]
            if status != 'ok':
                break
    finally:
        holder.close()
        if holderb is not None:
            holderb.close()
        if sholder is not None:
            sholder.close()
    return ('not ok' if all_diags else 'ok'), all_diags


def spool_dir(ctx, cfgtext):
    """The spool the case's smtpfwd uses: queue_dir from the config, else
    the default under the XDG_STATE_HOME the harness sets."""
    m = re.search(rb'(?m)^\s*queue_dir\s+(\S+)\s*$', cfgtext or b'')
    if m:
        d = m.group(1).decode()
        return d if os.path.isabs(d) else os.path.join(ctx['tmp'], d)
    return os.path.join(ctx['tmp'], 'home', '.local', 'state', 'smtpfwd', 'queue')


def spool_files(spool, sub):
    d = os.path.join(spool, sub)
    try:
        return sorted(f for f in os.listdir(d) if not f.startswith('.'))
    except FileNotFoundError:
        return []


def spool_summary(spool):
    """<expect-spool>: "new: N", "tmp: N", "failed: N" and "corrupt: N"
    (failed/ entries named *.corrupt), one line each."""
    failed = spool_files(spool, 'failed')
    corrupt = [f for f in failed if f.endswith('.corrupt')]
    return ('new: %d\ntmp: %d\nfailed: %d\ncorrupt: %d\n' % (
        len(spool_files(spool, 'new')), len(spool_files(spool, 'tmp')),
        len(failed) - len(corrupt), len(corrupt))).encode()


def entry_ids(spool, sub='new'):
    return [f for f in spool_files(spool, sub) if not f.endswith('.corrupt')]


def run_client(sections, info, ctx, args, proc, suffix='', first=True):
    tmp = ctx['tmp']
    diags = []

    # %QID / %QIDS: the entries waiting in new/ when the step starts.
    cfg0 = get(sections, 'config')
    spool = spool_dir(ctx, substitute(cfg0.body, ctx) if cfg0 else b'')
    ids = entry_ids(spool)
    ctx['qid'] = ids[0] if ids else 'NO-ENTRY'
    ctx['qids'] = ' '.join(ids)

    # Files.
    for fs in get_all(sections, 'file'):
        fname = substitute(fs.attrs.get('name', '').encode(), ctx).decode()
        if not fname:
            raise CaseError('<file> needs name="..."')
        if not os.path.isabs(fname):
            fname = os.path.join(tmp, fname)
        os.makedirs(os.path.dirname(fname), exist_ok=True)
        with open(fname, 'wb') as f:
            f.write(substitute(fs.body, ctx))
        os.chmod(fname, int(fs.attrs.get('mode', '0644'), 8))
        if fs.attrs.get('age'):
            # age="SECONDS": the file's mtime lies that far in the past.
            t = time.time() - int(fs.attrs['age'])
            os.utime(fname, (t, t))

    argv = [args.smtpfwd]
    cfg = get(sections, 'config')
    if cfg:
        cpath = substitute(cfg.attrs.get('name', '%TMP/smtprc').encode(), ctx).decode()
        os.makedirs(os.path.dirname(cpath), exist_ok=True)
        with open(cpath, 'wb') as f:
            f.write(substitute(cfg.body, ctx))
        os.chmod(cpath, int(cfg.attrs.get('mode', '0600'), 8))
        if cfg.attrs.get('pass', 'yes') == 'yes':
            argv += ['-C', cpath]

    base_argv = list(argv)
    cmd = get(sections, 'cmd')
    if cmd:
        text = substitute(cmd.body, ctx).decode('utf-8', 'surrogateescape')
        argv += shlex.split(text)
        if cmd.attrs.get('argv0'):
            argv0 = cmd.attrs['argv0']
        else:
            argv0 = None
    else:
        argv0 = None

    extra_env = {}
    env_s = get(sections, 'env')
    if env_s:
        for line in substitute(env_s.body, ctx).decode().splitlines():
            if '=' in line:
                k, v = line.split('=', 1)
                extra_env[k] = v
    env = case_env(tmp, extra_env)

    stdin_s = get(sections, 'stdin')
    stdin_data = substitute(stdin_s.body, ctx) if stdin_s else b''

    timeout = float(info.get('timeout', DEFAULT_TIMEOUT))
    if args.valgrind:
        supp = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'valgrind.supp')
        argv = ['valgrind', '-q', '--error-exitcode=99', '--leak-check=full',
                '--suppressions=' + supp] + argv
        timeout *= 5
    exe = argv[0]
    if argv0:
        link = os.path.join(tmp, argv0)
        os.symlink(args.smtpfwd, link)
        argv[0 if not args.valgrind else argv.index(args.smtpfwd)] = link
        exe = argv[0]
    start = time.monotonic()
    tty = stdin_s is not None and stdin_s.attrs.get('tty') == 'yes'
    err_tty = cmd is not None and cmd.attrs.get('stderr') == 'tty'
    if tty and err_tty:
        raise CaseError('<stdin tty="yes"> and <cmd stderr="tty"> cannot be combined')
    try:
        hold = int(stdin_s.attrs.get('hold', '0')) if stdin_s is not None else 0
        if tty:
            p = run_on_tty(argv, stdin_data, env, tmp, timeout, exe)
        elif err_tty:
            p = run_stderr_on_tty(argv, stdin_data, env, tmp, timeout, exe)
        elif hold:
            p = run_holding_stdin(argv, stdin_data, hold, env, tmp, timeout, exe, diags,
                                  suffix)
        else:
            p = subprocess.run(argv, input=stdin_data, capture_output=True, env=env,
                               cwd=tmp, timeout=timeout, executable=exe,
                               preexec_fn=memory_limit(info, args),
                               start_new_session=True)
    except subprocess.TimeoutExpired as e:
        diags.append('smtpfwd timed out after %gs' % timeout)
        if args.verbose:
            diags += transcript(tmp, e.stdout or b'', e.stderr or b'', suffix)
        return 'not ok', diags
    except OSError as e:
        raise CaseError('cannot run %s: %s' % (argv[0], e))
    elapsed = time.monotonic() - start
    with open(os.path.join(tmp, 'smtpfwd%s.stdout' % suffix), 'wb') as f:
        f.write(p.stdout)
    with open(os.path.join(tmp, 'smtpfwd%s.stderr' % suffix), 'wb') as f:
        f.write(p.stderr)

    ids = entry_ids(spool)      # %QID in the checks: the entries now
    ctx['qid'] = ids[0] if ids else 'NO-ENTRY'
    ctx['qids'] = ' '.join(ids)
    if proc is not None and not stop_server(proc):
        diags.append('smtpd-script did not stop on SIGTERM')
    if ctx.get('procb') is not None and not stop_server(ctx['procb']):
        diags.append('smtpd-script (serverb) did not stop on SIGTERM')
    if ctx.get('socks_proc') is not None and not stop_server(ctx['socks_proc']):
        diags.append('socks5-server.py did not stop on SIGTERM')
    socks_events = read_file(os.path.join(tmp, 'socks%s.events' % suffix))
    socks_err = read_file(os.path.join(tmp, 'socks%s.stderr' % suffix))
    if socks_err:
        diags.append('socks5-server.py: ' + show(socks_err).strip())
    log = read_file(os.path.join(tmp, 'server%s.log' % suffix))
    events = read_file(os.path.join(tmp, 'server%s.events' % suffix))
    srv_err = read_file(os.path.join(tmp, 'server%s.stderr' % suffix))
    if srv_err:
        diags.append('smtpd-script: ' + show(srv_err).strip())
    # The second server's files (serverb.log, serverb2.log, ...).
    logb = read_file(os.path.join(tmp, 'serverb%s.log' % suffix))
    eventsb = read_file(os.path.join(tmp, 'serverb%s.events' % suffix))
    srv_errb = read_file(os.path.join(tmp, 'serverb%s.stderr' % suffix))
    if srv_errb:
        diags.append('smtpd-script (serverb): ' + show(srv_errb).strip())

    def check_exact(secname, actual, label, stripname=None, crlf=False):
        # A section given more than once lists the outcomes that are all
        # correct (e.g. where a race with the server's close decides which
        # one happens): the bytes must equal one of them.
        alts = get_all(sections, secname)
        if not alts:
            return
        act = actual
        if stripname:
            act = apply_strip(act, strip_rules(sections, stripname, ctx))
        # CRLF is appended per line of the case file, before substitution,
        # so %CR/%LF/%REPEAT inside a line stay literal bytes.
        exps = [substitute(crlf_lines(s.body) if crlf else s.body, ctx) for s in alts]
        if act not in exps:
            diags.extend(diff(label, exps[0], act))
            if len(exps) > 1:
                diags.append('%s: none of the %d allowed outcomes matched (the diff is '
                             'against the first)' % (label, len(exps)))

    def check_contains(secname, actual, label):
        s = get(sections, secname)
        if not s:
            return
        for line in substitute(s.body, ctx).split(b'\n'):
            if line and line not in actual:
                diags.append('%s does not contain: %s' % (label, visible(line)))

    # Exit status.
    es = get(sections, 'expect-exit')
    wants = es.body.split() if es else [b'0']
    if not wants:
        wants = [b'0']
    got = p.returncode
    if b'any' not in wants and str(got).encode() not in wants:
        diags.append('exit status: expected %s, got %d' % (
            ' or '.join(w.decode() for w in wants), got))

    check_exact('expect-protocol', log, 'protocol', 'strip', crlf=True)
    check_exact('expect-protocol-raw', log, 'protocol (raw)', 'strip')
    check_exact('expect-stderr', p.stderr, 'stderr', 'strip-stderr')
    check_exact('expect-stdout', p.stdout, 'stdout', 'strip-stdout')
    check_exact('expect-events', events, 'events')
    check_exact('expect-protocolb', logb, 'protocol (serverb)', 'strip', crlf=True)
    check_exact('expect-eventsb', eventsb, 'events (serverb)')
    check_contains('expect-protocolb-contains', logb, 'protocol (serverb)')
    check_contains('expect-eventsb-contains', eventsb, 'events (serverb)')
    check_contains('expect-stderr-contains', p.stderr, 'stderr')
    check_contains('expect-stdout-contains', p.stdout, 'stdout')
    check_contains('expect-protocol-contains', log, 'protocol')
    check_contains('expect-events-contains', events, 'events')
    check_exact('expect-socks-events', socks_events, 'SOCKS events')
    check_contains('expect-socks-events-contains', socks_events, 'SOCKS events')
    s = get(sections, 'expect-json')
    if s:
        # Standard output must be one JSON document; each line of the
        # section must be one of its scalar values (numbers as written).
        import json
        try:
            doc = json.loads(p.stdout.decode('utf-8'))
        except ValueError as e:
            doc = None
            diags.append('stdout is not JSON: %s' % e)
        if doc is not None:
            values = set()
            todo = [doc]
            while todo:
                v = todo.pop()
                if isinstance(v, dict):
                    todo += list(v.values())
                elif isinstance(v, list):
                    todo += v
                elif isinstance(v, str):
                    values.add(v)
                else:
                    values.add(json.dumps(v))
            for line in substitute(s.body, ctx).decode('utf-8', 'replace').split('\n'):
                if line and line not in values:
                    diags.append('JSON output has no value "%s"' % line)
    s = get(sections, 'expect-protocol-count')
    if s:
        # "N TEXT": TEXT occurs exactly N times in the received bytes.
        for line in substitute(s.body, ctx).split(b'\n'):
            if not line.strip():
                continue
            n, _, text = line.partition(b' ')
            if log.count(text) != int(n):
                diags.append('protocol contains "%s" %d times, expected %s' % (
                    visible(text), log.count(text), n.decode()))

    for fs in get_all(sections, 'expect-file'):
        fname = substitute(fs.attrs.get('name', '').encode(), ctx).decode()
        if not os.path.isabs(fname):
            fname = os.path.join(tmp, fname)
        if not os.path.exists(fname):
            diags.append('file %s was not created' % fname)
            continue
        act = apply_strip(read_file(fname), strip_rules(sections, 'strip-file', ctx))
        exp = substitute(fs.body, ctx)
        if exp != act:
            diags.extend(diff(os.path.basename(fname), exp, act))

    for fs in get_all(sections, 'expect-file-contains'):
        fname = substitute(fs.attrs.get('name', '').encode(), ctx).decode()
        if not os.path.isabs(fname):
            fname = os.path.join(tmp, fname)
        blob = read_file(fname)
        for line in substitute(fs.body, ctx).split(b'\n'):
            if line and line not in blob:
                diags.append('%s does not contain: %s' % (fname, visible(line)))

    for ab in get_all(sections, 'expect-absent'):
        # where="stderr,stdout,protocol,logs,events" (default: all but events)
        where = set(ab.attrs.get('where', 'stderr,stdout,protocol,logs').split(','))
        everything = [(k, v) for k, v in (('stderr', p.stderr), ('stdout', p.stdout),
                                          ('protocol', log), ('events', events)) if k in where]
        for root, _, files in os.walk(tmp):
            for fn in files:
                if fn.endswith('.log') and not re.fullmatch(r'serverb?[0-9]*\.log', fn) \
                        and 'logs' in where:
                    everything.append((fn, read_file(os.path.join(root, fn))))
        for line in substitute(ab.body, ctx).split(b'\n'):
            for label, blob in everything:
                if line and line in blob:
                    diags.append('%s contains forbidden text: %s' % (label, visible(line)))

    check_spool(sections, ctx, args, env, base_argv, spool, diags)

    mt = info.get('max-time')
    if mt and elapsed > float(mt):
        diags.append('took %.1fs, more than %ss' % (elapsed, mt))

    if diags and args.verbose:
        diags.append('command: ' + ' '.join(shlex.quote(a) for a in argv))
        diags += transcript(tmp, p.stdout, p.stderr, suffix)
    return ('not ok' if diags else 'ok'), diags


def check_spool(sections, ctx, args, env, base_argv, spool, diags):
    """The spool checks: <expect-queue> / <expect-queue-contains> (what
    "smtpfwd -bp" prints now, after <strip-queue>), <expect-spool> (file
    counts), <expect-entry-contains> / <expect-entry-absent> (every entry
    file in new/, or dir="failed"), <expect-entry-due> (yes/no: is every
    entry in new/ due now)."""
    if get(sections, 'expect-queue') or get(sections, 'expect-queue-contains'):
        try:
            q = subprocess.run(base_argv + ['-bp'], stdin=subprocess.DEVNULL,
                               capture_output=True, env=env, cwd=ctx['tmp'], timeout=20)
            out = q.stdout
            if q.returncode != 0:
                diags.append('smtpfwd -bp exited with %d: %s' % (q.returncode,
                                                                 show(q.stderr).strip()))
        except (OSError, subprocess.TimeoutExpired) as e:
            out = b''
            diags.append('smtpfwd -bp: %s' % e)
        s = get(sections, 'expect-queue')
        if s:
            exp = substitute(s.body, ctx)
            act = apply_strip(out, strip_rules(sections, 'strip-queue', ctx))
            if exp != act:
                diags.extend(diff('queue listing', exp, act))
        s = get(sections, 'expect-queue-contains')
        if s:
            for line in substitute(s.body, ctx).split(b'\n'):
                if line and line not in out:
                    diags.append('queue listing does not contain: %s' % visible(line))
    s = get(sections, 'expect-spool')
    if s:
        exp = substitute(s.body, ctx)
        act = spool_summary(spool)
        if exp != act:
            diags.extend(diff('spool', exp, act))
    for kind in ('expect-entry-contains', 'expect-entry-absent'):
        for s in get_all(sections, kind):
            sub = s.attrs.get('dir', 'new')
            names = spool_files(spool, sub)
            if not names:
                diags.append('%s: no entry in %s/' % (kind, sub))
            for n in names:
                blob = read_file(os.path.join(spool, sub, n))
                head = blob.split(b'\n\n', 1)[0] if s.attrs.get('part') != 'all' else blob
                for line in substitute(s.body, ctx).split(b'\n'):
                    if not line:
                        continue
                    found = line in head
                    if kind == 'expect-entry-contains' and not found:
                        diags.append('entry %s/%s does not contain: %s' % (sub, n, visible(line)))
                    if kind == 'expect-entry-absent' and found:
                        diags.append('entry %s/%s contains: %s' % (sub, n, visible(line)))
    s = get(sections, 'expect-entry-due')
    if s:
        want = s.body.strip() == b'yes'
        now = time.time()
        for n in spool_files(spool, 'new'):
            blob = read_file(os.path.join(spool, 'new', n))
            m = re.search(rb'(?m)^next-attempt: *(\d+)', blob.split(b'\n\n', 1)[0])
            if not m:
                diags.append('entry new/%s has no next-attempt' % n)
            elif (int(m.group(1)) <= now) != want:
                diags.append('entry new/%s: next-attempt %s is %s' % (
                    n, m.group(1).decode(), 'in the future' if want else 'already due'))


_sanitized = {}


def memory_limit(info, args):
    """<info> memory: MB caps smtpfwd's address space (RLIMIT_AS), so that
    a case can check that what a server sends cannot make it allocate
    without bound. Not under valgrind, and not for a binary built with
    AddressSanitizer (its shadow memory needs terabytes of address space):
    there the case still runs, without the limit."""
    mb = info.get('memory')
    if not mb or args.valgrind:
        return None
    if args.smtpfwd not in _sanitized:
        try:
            with open(args.smtpfwd, 'rb') as f:
                _sanitized[args.smtpfwd] = b'__asan_init' in f.read()
        except OSError:
            _sanitized[args.smtpfwd] = False
    if _sanitized[args.smtpfwd]:
        return None
    limit = int(mb) * 1024 * 1024

    def apply():
        import resource
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    return apply


def run_holding_stdin(argv, data, hold_ms, env, cwd, timeout, exe, diags, suffix=''):
    """Write the data but keep standard input open for hold_ms; no
    connection may be made before end of input (doc/ARCHITECTURE.md, contract 7)."""
    proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env=env, cwd=cwd, executable=exe,
                            start_new_session=True)
    try:
        proc.stdin.write(data)
        proc.stdin.flush()
    except BrokenPipeError:
        pass
    time.sleep(hold_ms / 1000.0)
    if read_file(os.path.join(cwd, 'server%s.events' % suffix)):
        diags.append('smtpfwd connected before its standard input ended')
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        raise subprocess.TimeoutExpired(argv, timeout, out, err)
    return subprocess.CompletedProcess(argv, proc.returncode, out, err)


def run_on_tty(argv, data, env, cwd, timeout, exe):
    """Run with standard input on a pseudo-terminal (canonical mode, so
    %HEX{04} in the data is end of file); stdout and stderr are pipes."""
    import pty
    import termios
    master, slave = pty.openpty()
    attrs = termios.tcgetattr(slave)
    attrs[3] &= ~termios.ECHO          # no echo into the master
    attrs[0] &= ~termios.ICRNL
    termios.tcsetattr(slave, termios.TCSANOW, attrs)
    try:
        proc = subprocess.Popen(argv, stdin=slave, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, env=env, cwd=cwd, executable=exe)
        os.close(slave)
        slave = -1
        os.write(master, data)
        try:
            out, err = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, err = proc.communicate()
            raise subprocess.TimeoutExpired(argv, timeout, out, err)
        return subprocess.CompletedProcess(argv, proc.returncode, out, err)
    finally:
        if slave >= 0:
            os.close(slave)
        os.close(master)


def run_stderr_on_tty(argv, data, env, cwd, timeout, exe):
    """Run with standard error on a pseudo-terminal (output processing
    off, so the bytes read are the bytes written); stdin and stdout are
    pipes. The terminal's output is returned as stderr."""
    import pty
    import termios
    import threading
    master, slave = pty.openpty()
    attrs = termios.tcgetattr(slave)
    attrs[1] &= ~termios.OPOST         # no LF -> CRLF
    termios.tcsetattr(slave, termios.TCSANOW, attrs)
    chunks = []

    def drain():
        while True:
            try:
                b = os.read(master, 65536)
            except OSError:            # EIO: every slave descriptor closed
                return
            if not b:
                return
            chunks.append(b)

    reader = threading.Thread(target=drain, daemon=True)
    try:
        proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                stderr=slave, env=env, cwd=cwd, executable=exe,
                                start_new_session=True)
        os.close(slave)
        slave = -1
        reader.start()
        try:
            out, _ = proc.communicate(input=data, timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, _ = proc.communicate()
            raise subprocess.TimeoutExpired(argv, timeout, out, b''.join(chunks))
        reader.join(timeout)
        return subprocess.CompletedProcess(argv, proc.returncode, out, b''.join(chunks))
    finally:
        if slave >= 0:
            os.close(slave)
        if reader.is_alive():
            reader.join(1)
        os.close(master)


def transcript(tmp, stdout, stderr, suffix=''):
    out = ['--- server received (server%s.log):' % suffix]
    out += ['  ' + l for l in visible(read_file(os.path.join(tmp, 'server%s.log' % suffix))).split('\n')]
    out.append('--- server events:')
    out += ['  ' + l for l in visible(read_file(os.path.join(tmp, 'server%s.events' % suffix))).split('\n')]
    if os.path.exists(os.path.join(tmp, 'serverb%s.log' % suffix)):
        out.append('--- serverb received (serverb%s.log):' % suffix)
        out += ['  ' + l for l in visible(read_file(os.path.join(tmp, 'serverb%s.log' % suffix))).split('\n')]
        out.append('--- serverb events:')
        out += ['  ' + l for l in visible(read_file(os.path.join(tmp, 'serverb%s.events' % suffix))).split('\n')]
    out.append('--- smtpfwd stderr:')
    out += ['  ' + l for l in visible(stderr).split('\n')]
    out.append('--- smtpfwd stdout:')
    out += ['  ' + l for l in visible(stdout).split('\n')]
    return out


def main():
    # Directories made for <file> sections (a spool set up by hand) must
    # not depend on the caller's umask: smtpfwd refuses a spool that its
    # group may write.
    os.umask(0o022)
    ap = argparse.ArgumentParser(description='Run smtpfwd data-file test cases (TAP).')
    ap.add_argument('-v', '--verbose', action='store_true',
                    help='show the full transcript of failing cases')
    ap.add_argument('-j', '--jobs', type=int, default=os.cpu_count() or 1)
    ap.add_argument('-k', '--keep', action='store_true', help='keep temporary directories')
    ap.add_argument('--valgrind', action='store_true', help='run smtpfwd under valgrind')
    ap.add_argument('--print-config', action='store_true',
                    help='print each case\'s <config> sections (%%INCLUDE expanded) and exit')
    ap.add_argument('datadir')
    ap.add_argument('cases', nargs='*')
    args = ap.parse_args()

    if args.print_config:
        names = args.cases or sorted(n for n in os.listdir(args.datadir) if re.fullmatch(r'test\d+', n))
        out = sys.stdout.buffer
        for n in names:
            for sec in parse_case(os.path.join(args.datadir, n)):
                if re.fullmatch(r'config\d*', sec.name):
                    out.write(b'=== %s <%s %s>\n' % (n.encode(), sec.name.encode(),
                                                   repr(sorted(sec.attrs.items())).encode()))
                    out.write(sec.body)
        return 0

    args.smtpfwd = os.environ.get('SMTPFWD')
    args.smtpd = os.environ.get('SMTPD')
    top = os.environ.get('top_srcdir')
    args.srcdir = os.path.abspath(top if top else os.path.join(args.datadir, '..', '..'))
    if not args.smtpfwd or not args.smtpd:
        print('Bail out! set SMTPFWD and SMTPD (the smtpfwd and smtpd-script binaries)')
        return 1
    args.smtpfwd = os.path.abspath(args.smtpfwd)
    args.smtpd = os.path.abspath(args.smtpd)

    if args.cases:
        names = [os.path.basename(c) for c in args.cases]
        names = ['test%04d' % int(c) if c.isdigit() else c for c in names]
    else:
        names = sorted(n for n in os.listdir(args.datadir) if re.fullmatch(r'test\d+', n))
    paths = [os.path.join(args.datadir, n) for n in names]
    print('1..%d' % len(paths), flush=True)
    failed = 0
    with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, args.jobs)) as ex:
        futures = [ex.submit(run_case, p, args) for p in paths]
        for i, fut in enumerate(futures, 1):
            try:
                status, name, diags = fut.result()
            except Exception as e:  # a harness bug must not hide the other cases
                status, name, diags = 'not ok', os.path.basename(paths[i - 1]), [repr(e)]
            if status == 'skip':
                print('ok %d # SKIP %s' % (i, name))
            else:
                print('%s %d - %s' % (status, i, name))
                if status != 'ok':
                    failed += 1
            for d in diags:
                print('# ' + d)
            sys.stdout.flush()
    return 0


if __name__ == '__main__':
    sys.exit(main())
