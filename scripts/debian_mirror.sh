#!/usr/bin/env bash
# Prints the Debian mirror this machine's apt sources use for its main archive (not the
# security archive), so that scripts never write a host name down. Reads deb822 files
# (sources.list.d/*.sources) and one-line lists (sources.list, sources.list.d/*.list).
set -euo pipefail
python3 - <<'PY'
import glob, re, sys

def deb822(path):
    for stanza in re.split(r"\n\s*\n", open(path).read()):
        fields = {}
        for line in stanza.splitlines():
            m = re.match(r"^([A-Za-z-]+):\s*(.*)$", line)
            if m and not line.startswith("#"):
                fields[m.group(1).lower()] = m.group(2).split()
        if "deb" in fields.get("types", []):
            for uri in fields.get("uris", []):
                yield uri, fields.get("suites", [])

def one_line(path):
    for line in open(path):
        m = re.match(r"^\s*deb\s+(\[[^\]]*\]\s+)?(\S+)\s+(\S+)", line)
        if m:
            yield m.group(2), [m.group(3)]

sources = []
for path in sorted(glob.glob("/etc/apt/sources.list.d/*.sources")):
    sources += deb822(path)
for path in ["/etc/apt/sources.list"] + sorted(glob.glob("/etc/apt/sources.list.d/*.list")):
    try:
        sources += one_line(path)
    except FileNotFoundError:
        pass
for uri, suites in sources:
    if not any(s.endswith("-security") for s in suites) and "security" not in uri:
        print(uri.rstrip("/"))
        sys.exit(0)
sys.exit("no Debian main archive in /etc/apt sources")
PY
