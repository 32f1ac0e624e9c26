#!/usr/bin/env python3
"""architecture.py - check that src/ is what doc/ARCHITECTURE.md says it is.

The module table of doc/ARCHITECTURE.md has one row per module:

    | layer | files | owns |
    | 3 | `smtp.[ch]`, `smtp-auth.c`, `smtp-int.h` | the SMTP client ... |

This script reads that table and src/, and reports in TAP:

  - every file of src/ (.c and .h) is named in exactly one row, and every
    file a row names exists (rows whose layer is "-" are modules to come);
  - a file includes (#include "x.h") only headers of its own layer or
    of a lower one: no upward dependency;
  - the modules' include graph has no cycle (within a layer either);
  - no file of src/ is longer than the limit (900 lines): a file that
    grows past it mixes concerns and is split along a real seam;
  - every .c file of src/ is in po/POTFILES.in (next to SRCDIR), so that
    its messages, now or later, can be translated.

Usage: architecture.py SRCDIR DOC
"""
import os
import re
import sys

MAX_LINES = 900

checks = []


def check(ok, what, detail=""):
    checks.append((ok, what, detail))


def expand(pattern):
    """`queue.[ch]` -> queue.c, queue.h; `main.c` -> main.c."""
    m = re.fullmatch(r"(.+)\.\[ch\]", pattern)
    if m:
        return [m.group(1) + ".c", m.group(1) + ".h"]
    return [pattern]


def read_table(doc):
    rows = []
    with open(doc, encoding="utf-8") as f:
        for line in f:
            m = re.match(r"\|\s*(\d+|-)\s*\|(.*?)\|(.*)\|\s*$", line)
            if not m:
                continue
            layer = None if m.group(1) == "-" else int(m.group(1))
            files = []
            for name in re.findall(r"`([^`]+)`", m.group(2)):
                files.extend(expand(name))
            if files:
                rows.append((layer, files, line.strip()))
    return rows


def includes(path):
    out = []
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            m = re.match(r'\s*#\s*include\s+"([^"]+)"', line)
            if m:
                out.append(os.path.basename(m.group(1)))
    return out


def main():
    srcdir, doc = sys.argv[1], sys.argv[2]
    rows = read_table(doc)
    check(len(rows) > 10, "the module table of %s is found" % os.path.basename(doc),
          "%d rows" % len(rows))

    files = sorted(f for f in os.listdir(srcdir)
                   if f.endswith((".c", ".h")) and os.path.isfile(os.path.join(srcdir, f)))
    layer_of, module_of, named = {}, {}, {}
    for i, (layer, names, _) in enumerate(rows):
        for n in names:
            named.setdefault(n, []).append(i)
            if layer is not None:
                layer_of[n] = layer
                module_of[n] = i

    for f in files:
        where = named.get(f, [])
        check(len(where) == 1, "%s is named in one row of the module table" % f,
              "named in %d rows" % len(where))
    for n, where in sorted(named.items()):
        if rows[where[0]][0] is None:
            check(n not in files, "%s is listed as to come and does not exist yet" % n,
                  "it exists: give its row a layer")
        else:
            check(n in files, "%s (named in the module table) exists in src/" % n)

    edges = {}
    for f in files:
        if f not in layer_of:
            continue
        bad = []
        for inc in includes(os.path.join(srcdir, f)):
            if inc not in layer_of:
                if inc in files:
                    bad.append("%s (not in the table)" % inc)
                continue     # a generated or system header
            if layer_of[inc] > layer_of[f]:
                bad.append("%s (layer %d)" % (inc, layer_of[inc]))
            if module_of[inc] != module_of[f]:
                edges.setdefault(module_of[f], set()).add(module_of[inc])
        check(not bad, "%s (layer %d) includes no header of a higher layer" % (f, layer_of[f]),
              "includes " + ", ".join(bad))

    # A cycle among modules: depth-first search with colours.
    colour, cycle = {}, []

    def visit(m, path):
        colour[m] = 1
        for n in sorted(edges.get(m, ())):
            if colour.get(n) == 1:
                cycle.append(path[path.index(n):] + [n] if n in path else [m, n])
                return True
            if not colour.get(n) and visit(n, path + [n]):
                return True
        colour[m] = 2
        return False

    for m in sorted(edges):
        if not colour.get(m) and visit(m, [m]):
            break
    check(not cycle, "the modules' include graph has no cycle",
          " -> ".join(rows[i][1][0] for i in cycle[0]) if cycle else "")

    for f in files:
        with open(os.path.join(srcdir, f), encoding="utf-8", errors="replace") as fh:
            n = sum(1 for _ in fh)
        check(n <= MAX_LINES, "%s is at most %d lines" % (f, MAX_LINES), "%d lines" % n)

    potfiles = os.path.join(os.path.dirname(os.path.abspath(srcdir)), "po", "POTFILES.in")
    with open(potfiles, encoding="utf-8") as fh:
        listed = {line.strip() for line in fh}
    for f in files:
        if f.endswith(".c"):
            check("src/" + f in listed, "src/%s is in po/POTFILES.in" % f)

    print("1..%d" % len(checks))
    for i, (ok, what, detail) in enumerate(checks, 1):
        print("%s %d - %s" % ("ok" if ok else "not ok", i, what))
        if not ok and detail:
            print("#   " + detail)
    return 0


if __name__ == "__main__":
    sys.exit(main())
