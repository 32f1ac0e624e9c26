#!/usr/bin/env python3
# tests/bench/bench.py - the measurements of `make bench` (started by
# tests/bench/run.sh, which builds the helpers and starts Postfix).
#
# Owns: starting the sink and the delaying proxies, running smtpfwd and
# msmtp against the same servers in the same run, taking medians, and
# printing the one table. Every child is waited for with os.wait4, so wall
# time (CLOCK_MONOTONIC around fork/exec/wait), CPU time (user + system) and
# peak RSS (ru_maxrss) are those of the client process alone. Every run is
# bounded by a timeout; every server started here is stopped on exit.
# Runs go through tests/bench/timer (fork + exec + wait4 in a small C
# process) so that Python's own memory is not counted in ru_maxrss.
#
# Environment: SMTPFWD, MSMTP (may be empty), SINK, PROXY, BENCH_DIR (a
# private temporary directory), TIMER, and, when Postfix runs, PF_SUB, PF_SMTPS,
# PF_CA, PF_USER, PF_PASS. BENCH_QUICK=1 cuts the repetitions (smoke test).
import os
import statistics
import subprocess
import sys
import time

SMTPFWD = os.environ["SMTPFWD"]
MSMTP = os.environ.get("MSMTP", "")
SINK = os.environ["SINK"]
PROXY = os.environ["PROXY"]
TIMER = os.environ["TIMER"]
DIR = os.environ["BENCH_DIR"]
QUICK = os.environ.get("BENCH_QUICK") == "1"
PF = {k: os.environ.get(k, "") for k in ("PF_SUB", "PF_SMTPS", "PF_CA", "PF_USER", "PF_PASS")}
HAVE_PF = bool(PF["PF_SUB"])

RUNS_SMALL = 3 if QUICK else 21
RUNS_RTT = 2 if QUICK else 5
RUNS_1M = 3 if QUICK else 9
RUNS_BIG = 1 if QUICK else 3
FLUSH_N = 100 if QUICK else 1000
BS_N = 100 if QUICK else 1000
RUNS_FLUSH = 1 if QUICK else 3
DELAY_MS = (25, 50)    # round trips from the slope between these two delays
TIMEOUT = 120

servers = []


def stop_servers():
    for p in servers:
        if p.poll() is None:
            p.terminate()
            try:
                p.wait(15)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
    servers.clear()


def wait_file(path, proc):
    deadline = time.time() + 10
    while not os.path.exists(path):
        if proc.poll() is not None or time.time() > deadline:
            sys.exit("bench: %s did not start" % proc.args[0])
        time.sleep(0.005)
    with open(path) as f:
        return int(f.read())


def start_sink(name, *opts):
    pf = os.path.join(DIR, name + ".port")
    sf = os.path.join(DIR, name + ".stats")
    p = subprocess.Popen([SINK, *opts, pf, sf])
    servers.append(p)
    return p, wait_file(pf, p), sf


def stop_sink(p, sf):
    p.terminate()
    p.wait(20)
    servers.remove(p)
    with open(sf) as f:
        return dict((k, int(v)) for k, v in (line.split() for line in f))


def start_proxy(name, target, delay):
    pf = os.path.join(DIR, name + ".port")
    p = subprocess.Popen([PROXY, pf, str(target), str(delay)])
    servers.append(p)
    return wait_file(pf, p)


ENV = dict(os.environ)
ENV.update(HOME=os.path.join(DIR, "home"), XDG_CONFIG_HOME=os.path.join(DIR, "home/.config"),
           XDG_STATE_HOME=os.path.join(DIR, "home/.state"), XDG_CACHE_HOME=os.path.join(DIR, "home/.cache"),
           TMPDIR=os.path.join(DIR, "tmp"),
           SMTPFWD_SYSCONF="", LANG="C", LC_ALL="C", TZ="UTC")
ENV.pop("DBUS_SESSION_BUS_ADDRESS", None)
for d in ("home", "home/.config", "home/.state", "home/.cache", "tmp"):
    os.makedirs(os.path.join(DIR, d), exist_ok=True)


def run_once(argv, stdin_path):
    """Runs argv under tests/bench/timer with stdin from a file; returns
    (wall s, cpu s, maxrss KiB) of the client process alone."""
    rep = os.path.join(DIR, "timer.report")
    with open(stdin_path, "rb") as fin, open(os.path.join(DIR, "client.err"), "ab") as ferr:
        rc = subprocess.call([TIMER, rep, str(TIMEOUT), *argv], stdin=fin,
                             stdout=subprocess.DEVNULL, stderr=ferr, env=ENV)
    with open(rep) as f:
        report = f.read().split()
    os.unlink(rep)
    if rc != 0 or len(report) != 4:
        raise RuntimeError("timer failed for %s" % " ".join(argv))
    wall, cpu, rss, code = float(report[0]), float(report[1]), int(report[2]), int(report[3])
    if code != 0:
        raise RuntimeError("%s exited %d (see %s/client.err)" % (" ".join(argv), code, DIR))
    return wall, cpu, rss


def measure(argv, stdin_path, runs):
    """Medians over runs (one unmeasured warm-up run first)."""
    run_once(argv, stdin_path)
    samples = [run_once(argv, stdin_path) for _ in range(runs)]
    return (statistics.median(s[0] for s in samples), statistics.median(s[1] for s in samples),
            max(s[2] for s in samples))


def measure_interleaved(argvs, stdin_path, runs):
    """Like measure() for several commands at once, their runs taking turns
    (A B C A B C ...), so that a slow spell of the machine (the other
    core busy with Postfix, say) falls on all of them alike. argvs may
    hold None (no such client); a command that fails gives None."""
    live = [a for a in argvs if a]
    samples = {id(a): [] for a in live}
    failed = set()
    for a in live:
        try:
            run_once(a, stdin_path)
        except RuntimeError as e:
            print("bench: %s" % e, file=sys.stderr)
            failed.add(id(a))
    for _ in range(runs):
        for a in live:
            if id(a) in failed:
                continue
            try:
                samples[id(a)].append(run_once(a, stdin_path))
            except RuntimeError as e:
                print("bench: %s" % e, file=sys.stderr)
                failed.add(id(a))
    out = []
    for a in argvs:
        if not a or id(a) in failed:
            out.append(None)
            continue
        s = samples[id(a)]
        out.append((statistics.median(x[0] for x in s), statistics.median(x[1] for x in s),
                    max(x[2] for x in s)))
    return out


def write_rc(name, lines):
    path = os.path.join(DIR, name + ".rc")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write("account default\nfrom bench@x.test\ndomain client.x.test\ntimeout 30\n")
        f.write("".join(line + "\n" for line in lines))
    return path


def fwd_cmd(rc, *extra):
    return [SMTPFWD, "-C", rc, *extra]


def msmtp_cmd(rc):
    return [MSMTP, "-C", rc, "rcpt@x.test"]


def plain(port):
    return ["host 127.0.0.1", "port %d" % port, "tls off", "auth off"]


def tls_auth(port, starttls):
    return ["host 127.0.0.1", "port %d" % port, "tls on", "tls_starttls %s" % ("on" if starttls else "off"),
            "tls_trust_file " + PF["PF_CA"], "tls_host_override localhost", "auth plain",
            "user " + PF["PF_USER"], "password " + PF["PF_PASS"]]


def fwd_rc(name, lines):
    qdir = os.path.join(DIR, name + ".queue")
    return write_rc(name + "-fwd", lines + ["queue off", "queue_dir " + qdir])


def msmtp_rc(name, lines):
    return write_rc(name + "-msmtp", lines)


def make_message(path, size, line=None, head=None):
    """A text message of about `size` bytes: by default 76-character LF
    lines; `line` and `head` (bytes) give other ones."""
    if os.path.exists(path) and os.path.getsize(path) >= size:
        return path
    line = line or (b"The quick brown fox jumps over the lazy dog. 0123456789 abcdefghijklmnopqrs\n")
    head = head or (b"From: bench@x.test\nTo: rcpt@x.test\nSubject: benchmark\n"
                    b"Date: Thu, 01 Jan 2026 00:00:00 +0000\nMessage-ID: <bench@x.test>\n\n")
    with open(path + ".tmp", "wb") as f:
        f.write(head)
        block = line * max(1, 1000000 // len(line))
        written = len(head)
        while written < size:
            f.write(block)
            written += len(block)
    os.rename(path + ".tmp", path)
    return path


def make_long_8bit(path, size):
    """About `size` bytes of UTF-8 text without MIME header fields, in
    lines of 2,340 octets: a logwatch report with umlauts."""
    line = ("Grüße aus Köln, ünïcödé sérvïcé lög ëntry 0123456789 " * 36 + "\n").encode()
    head = (b"From: bench@x.test\nTo: rcpt@x.test\nSubject: logwatch\n"
            b"Date: Thu, 01 Jan 2026 00:00:00 +0000\nMessage-ID: <bench8@x.test>\n\n")
    return make_message(path, size, line, head)


rows = []       # (figure, smtpfwd, msmtp, ratio, how)


def fmt_ms(s):
    return "%.1f ms" % (s * 1000)


def ratio(a, b):
    return "%.2f" % (a / b) if a is not None and b else "-"


def try_measure(argv, stdin_path, runs):
    try:
        return measure(argv, stdin_path, runs)
    except RuntimeError as e:
        print("bench: %s" % e, file=sys.stderr)
        return None


def main():
    have_msmtp = bool(MSMTP)
    small = os.path.join(DIR, "small.eml")
    with open(small, "w") as f:
        f.write("From: bench@x.test\nTo: rcpt@x.test\nSubject: small\n\n"
                "Hello.\nThis is a six-line message.\nBye.\n")
    big1 = make_message("/tmp/smtpfwd-bench-1M.eml", 1 << 20)
    big135 = make_message("/tmp/smtpfwd-bench-135M.eml", 135 * 1000 * 1000)

    sink, sport, sstats = start_sink("sink")
    frc = fwd_rc("plain", plain(sport))
    mrc = msmtp_rc("plain", plain(sport))
    fwd_small = fwd_cmd(frc, "-i", "rcpt@x.test")

    # 1. small message, plain, to the sink
    f, m = measure_interleaved([fwd_small, msmtp_cmd(mrc) if have_msmtp else None], small,
                               RUNS_SMALL)
    rows.append(("small message, plain: wall", f and fmt_ms(f[0]), m and fmt_ms(m[0]),
                 ratio(f and f[0], m and m[0]),
                 "median of %d runs (after 1 warm-up; smtpfwd's and msmtp's runs take turns), "
                 "6-line message to the C sink, tls off, wall = fork..wait4" % RUNS_SMALL))
    rows.append(("small message, plain: CPU", f and fmt_ms(f[1]), m and fmt_ms(m[1]),
                 ratio(f and f[1], m and m[1]), "same runs, user+system time from wait4()"))
    rows.append(("small message, plain: peak RSS", f and "%.1f MiB" % (f[2] / 1024),
                 m and "%.1f MiB" % (m[2] / 1024), ratio(f and f[2], m and m[2]),
                 "same runs, max ru_maxrss from wait4()"))

    # 2. small message, STARTTLS + AUTH via Postfix: as configured by
    # default (smtpfwd resumes the TLS session of its previous run), and
    # the first contact with a server (tls_session_cache off: every run a
    # full handshake with certificate verification, like msmtp's).
    if HAVE_PF:
        mrc_t = msmtp_rc("starttls", tls_auth(int(PF["PF_SUB"]), True))
        variants = (("starttls", [], "STARTTLS+AUTH"),
                    ("starttls-full", ["tls_session_cache off"], "STARTTLS+AUTH, no session cache"))
        argvs = [fwd_cmd(fwd_rc(tag, tls_auth(int(PF["PF_SUB"]), True) + extra), "-i", "rcpt@x.test")
                 for tag, extra, _ in variants]
        res = measure_interleaved(argvs + [msmtp_cmd(mrc_t) if have_msmtp else None], small,
                                  RUNS_SMALL)
        m = res[-1]
        for (tag, extra, label), f in zip(variants, res):
            how = ("median of %d runs (after 1 warm-up; the three clients' runs take turns), "
                   "Postfix submission port + Dovecot SASL, "
                   "STARTTLS, AUTH PLAIN, certificate verified against the test CA; " % RUNS_SMALL
                   + ("smtpfwd resumes the TLS session its previous run kept (the default), "
                      "msmtp always does a full handshake" if not extra else
                      "smtpfwd with tls_session_cache off: a full handshake every run, as for "
                      "the first message to a server"))
            rows.append(("small message, %s: wall" % label, f and fmt_ms(f[0]), m and fmt_ms(m[0]),
                         ratio(f and f[0], m and m[0]), how))
            rows.append(("small message, %s: CPU" % label, f and fmt_ms(f[1]), m and fmt_ms(m[1]),
                         ratio(f and f[1], m and m[1]), "same runs, user+system time from wait4()"))
    else:
        rows.append(("small message, STARTTLS+AUTH", None, None, "-",
                     "skipped: needs root, postfix and dovecot (tests/postfix-lib.sh)"))

    # 3. round trips through the delaying proxy
    def rtts(label, tag, target, fwd_lines, ms_lines, how):
        p0 = start_proxy(tag + "-a", target, DELAY_MS[0])
        pd = start_proxy(tag + "-b", target, DELAY_MS[1])
        res = []
        for mk, lines in (("fwd", fwd_lines), ("msmtp", ms_lines)):
            if mk == "msmtp" and not have_msmtp:
                res.append(None)
                continue
            walls = []
            for port in (p0, pd):
                ls = [x if not x.startswith("port ") else "port %d" % port for x in lines]
                if mk == "fwd":
                    argv = fwd_cmd(fwd_rc("%s-%d" % (tag, port), ls), "-i", "rcpt@x.test")
                else:
                    argv = msmtp_cmd(msmtp_rc("%s-%d" % (tag, port), ls))
                r = try_measure(argv, small, RUNS_RTT)
                walls.append(r and r[0])
            step = 2 * (DELAY_MS[1] - DELAY_MS[0]) / 1000.0
            res.append((walls[1] - walls[0]) / step if None not in walls else None)
        rows.append((label, res[0] is not None and "%.1f" % res[0] or None,
                     res[1] is not None and "%.1f" % res[1] or None, ratio(res[0], res[1]),
                     how + "; (median wall with D=%d ms - median wall with D=%d ms) / (2*%d ms), each "
                     "direction delayed D by tests/bench/delay-proxy, TCP connect counted as one, "
                     "%d runs each" % (DELAY_MS[1], DELAY_MS[0], DELAY_MS[1] - DELAY_MS[0], RUNS_RTT)))

    rtts("round trips, plain (PIPELINING)", "rtt-plain", sport, plain(sport), plain(sport),
         "sink with PIPELINING, no CHUNKING")
    csink, cport, cstats = start_sink("sink-chunking", "-C")
    rtts("round trips, plain (PIPELINING + CHUNKING)", "rtt-chunk", cport, plain(cport),
         plain(cport), "sink with PIPELINING and CHUNKING (smtpfwd sends BDAT; msmtp has no "
         "CHUNKING and uses DATA)")
    if HAVE_PF:
        rtts("round trips, STARTTLS + AUTH PLAIN", "rtt-starttls", int(PF["PF_SUB"]),
             tls_auth(int(PF["PF_SUB"]), True), tls_auth(int(PF["PF_SUB"]), True), "Postfix submission")
        rtts("round trips, implicit TLS + AUTH PLAIN", "rtt-smtps", int(PF["PF_SMTPS"]),
             tls_auth(int(PF["PF_SMTPS"]), False), tls_auth(int(PF["PF_SMTPS"]), False), "Postfix smtps")
    else:
        rows.append(("round trips, TLS + AUTH PLAIN", None, None, "-",
                     "skipped: needs root, postfix and dovecot"))

    # 4. throughput and peak RSS, 1 MB and 135 MB
    for label, path, runs in (("1 MB", big1, RUNS_1M), ("135 MB", big135, RUNS_BIG)):
        size = os.path.getsize(path)
        f = try_measure(fwd_small, path, runs)
        m = try_measure(msmtp_cmd(mrc), path, runs) if have_msmtp else None
        tf = f and size / f[0] / 1e6
        tm = m and size / m[0] / 1e6
        rows.append(("%s message: throughput" % label, f and "%.0f MB/s" % tf, m and "%.0f MB/s" % tm,
                     ratio(tf, tm), "size / median wall of %d runs (stdin from a file in /tmp, "
                     "plain to the sink; smtpfwd's includes spooling the input)" % runs))
        rows.append(("%s message: peak RSS" % label, f and "%.1f MiB" % (f[2] / 1024),
                     m and "%.1f MiB" % (m[2] / 1024), ratio(f and f[2], m and m[2]),
                     "same runs, max ru_maxrss"))

    # 4a. conversion: 1 MB of 8-bit text with lines over 998 octets (what
    # logwatch writes) to a server without 8BITMIME: smtpfwd re-encodes it
    # as quoted-printable (MESSAGE CONVERSION in smtpfwd(1)); msmtp sends it
    # as it is, which RFC 6152 and RFC 5322 forbid.
    conv = make_long_8bit("/tmp/smtpfwd-bench-1M-8bit-long.eml", 1 << 20)
    s7, s7port, s7stats = start_sink("sink7", "-7")
    f = try_measure(fwd_cmd(fwd_rc("plain7", plain(s7port)), "-i", "rcpt@x.test"), conv, RUNS_1M)
    m = try_measure(msmtp_cmd(msmtp_rc("plain7", plain(s7port))), conv, RUNS_1M) if have_msmtp else None
    size = os.path.getsize(conv)
    tf = f and size / f[0] / 1e6
    tm = m and size / m[0] / 1e6
    rows.append(("1 MB 8-bit, long lines, no 8BITMIME: throughput", f and "%.0f MB/s" % tf,
                 m and "%.0f MB/s (unconverted)" % tm, ratio(tf, tm),
                 "size / median wall of %d runs to a sink without 8BITMIME: smtpfwd converts "
                 "to quoted-printable, msmtp sends the 8-bit lines of 2,000 octets as they are"
                 % RUNS_1M))
    rows.append(("1 MB 8-bit, long lines, no 8BITMIME: peak RSS", f and "%.1f MiB" % (f[2] / 1024),
                 m and "%.1f MiB" % (m[2] / 1024), ratio(f and f[2], m and m[2]),
                 "same runs, max ru_maxrss"))
    stop_sink(s7, s7stats)

    # 4b. 135 MB with CHUNKING: BDAT sends the stored bytes without dot-stuffing
    cfrc = fwd_rc("chunk", plain(cport))
    size = os.path.getsize(big135)
    f = try_measure(fwd_cmd(cfrc, "-i", "rcpt@x.test"), big135, RUNS_BIG)
    tf = f and size / f[0] / 1e6
    rows.append(("135 MB message, CHUNKING: throughput", f and "%.0f MB/s" % tf, "n/a (no CHUNKING)",
                 "-", "size / median wall of %d runs to the sink with CHUNKING (BDAT)" % RUNS_BIG))
    stop_sink(csink, cstats)

    # 5. enqueue only
    qdir = os.path.join(DIR, "enqueue.queue")
    qrc = write_rc("enqueue", plain(sport) + ["queue always", "queue_dir " + qdir])
    f = try_measure([SMTPFWD, "-C", qrc, "-i", "rcpt@x.test"], small, RUNS_SMALL)
    rows.append(("enqueue only (queue always)", f and fmt_ms(f[0]), "n/a (no queue)", "-",
                 "median wall of %d runs, small message into an empty temp queue_dir, fsyncs "
                 "included (on %s)" % (RUNS_SMALL, DIR)))
    stop_sink(sink, sstats)

    # 6. flush of FLUSH_N queued messages
    sink2, sport2, sstats2 = start_sink("flush")
    fdir = os.path.join(DIR, "flush.queue")
    frc_q = write_rc("flush", plain(sport2) + ["queue always", "queue_dir " + fdir])
    walls = []
    left = 0
    try:
        for _ in range(RUNS_FLUSH):
            for _ in range(FLUSH_N):
                run_once([SMTPFWD, "-C", frc_q, "-i", "rcpt@x.test"], small)
            walls.append(run_once([SMTPFWD, "-C", frc_q, "-q"], small)[0])
            left += sum(len(fs) for _, _, fs in os.walk(os.path.join(fdir, "new")))
    except RuntimeError as e:
        print("bench: %s" % e, file=sys.stderr)
        walls = []
    st = stop_sink(sink2, sstats2)
    w = walls and statistics.median(walls)
    cell = w and "%.0f msg/s, %d conn" % (FLUSH_N / w, st["connections"] / len(walls))
    rows.append(("flush of %d queued messages" % FLUSH_N, cell, "n/a (no queue)", "-",
                 "median of %d `smtpfwd -q` runs over %d freshly queued entries each, wall from "
                 "wait4; the sink counted %d messages over %d connection(s) in all; %d entries "
                 "left in new/" % (len(walls), FLUSH_N, st["messages"], st["connections"], left)))

    # 7. many small messages: one -bs session against separate runs
    bs_session_rows(small)

    print_table()


def bs_session(path, small, n):
    """Writes the SMTP session a -bs caller would pipe: EHLO, then n times
    MAIL/RCPT/DATA, the small message (CRLF, dot-stuffed) and ".", QUIT."""
    with open(small, "rb") as f:
        lines = f.read().decode().splitlines()
    data = "".join(("." + l if l.startswith(".") else l) + "\r\n" for l in lines) + ".\r\n"
    txn = "MAIL FROM:<bench@x.test>\r\nRCPT TO:<rcpt@x.test>\r\nDATA\r\n" + data
    with open(path, "w", newline="") as f:
        f.write("EHLO client.x.test\r\n" + txn * n + "QUIT\r\n")
    return path


def bs_session_rows(small):
    """BS_N small messages as one `smtpfwd -bs` session (one smarthost
    connection) and as BS_N separate runs, each against its own sink,
    whose counts say whether every message arrived."""
    session = bs_session(os.path.join(DIR, "session.smtp"), small, BS_N)
    cells = []
    for name in ("bs-one", "bs-separate"):
        sink, port, stats = start_sink(name)
        rc = fwd_rc(name, plain(port))
        try:
            if name == "bs-one":
                wall = run_once(fwd_cmd(rc, "-bs"), session)[0]
            else:
                wall = sum(run_once(fwd_cmd(rc, "-i", "rcpt@x.test"), small)[0] for _ in range(BS_N))
        except RuntimeError as e:
            print("bench: %s" % e, file=sys.stderr)
            wall = None
        st = stop_sink(sink, stats)
        cells.append((wall and "%.0f msg/s" % (BS_N / wall),
                      "the sink got %d of %d messages over %d connection(s)" % (
                          st["messages"], BS_N, st["connections"])))
    rows.append(("%d small messages: one -bs session" % BS_N, cells[0][0], "n/a (no -bs)", "-",
                 "messages / wall of one `smtpfwd -bs` run reading EHLO, %d pipelined MAIL/RCPT/DATA "
                 "transactions of the small message and QUIT on stdin; %s" % (BS_N, cells[0][1])))
    rows.append(("%d small messages: separate runs" % BS_N, cells[1][0], "n/a", "-",
                 "messages / summed wall of %d `smtpfwd -i rcpt` runs of the small message, one "
                 "after the other; %s" % (BS_N, cells[1][1])))


def print_table():
    head = ("figure", "smtpfwd", "msmtp", "smtpfwd/msmtp")
    body = [(r[0], r[1] or "n/a", r[2] or "n/a", r[3]) for r in rows]
    widths = [max(len(x[i]) for x in [head] + body) for i in range(4)]
    line = "  ".join("%%-%ds" % w for w in widths)
    print()
    print(line % head)
    print(line % tuple("-" * w for w in widths))
    for b in body:
        print(line % b)
    print()
    print("How each figure was measured:")
    for r in rows:
        print("  %s: %s" % (r[0], r[4]))
    ver = subprocess.run([SMTPFWD, "--version"], capture_output=True, text=True).stdout.splitlines()
    print("\nsmtpfwd: %s; msmtp: %s; %s; %d CPUs" % (
        ver[0] if ver else "?",
        subprocess.run([MSMTP, "--version"], capture_output=True, text=True).stdout.splitlines()[0]
        if MSMTP else "not installed",
        os.uname().release, os.cpu_count()))


if __name__ == "__main__":
    try:
        main()
    finally:
        stop_servers()
