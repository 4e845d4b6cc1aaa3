#!/usr/bin/env python3
"""Append one command's result to the runs file make.sh collects (one JSON object a line):
record.py RUNS KEY RC STDOUT_FILE STDERR_FILE WORK ROOT -- ARGV...

The command is stored as a shell-quoted line with the private temp dir shown as <tmp> and
the repository root left out, so reference.json does not depend on where it was made."""

import json
import re
import shlex
import sys


PODMAN = ("podman --root {0}/p-{1}/root --runroot {0}/p-{1}/run --storage-driver vfs "
          "--cgroup-manager cgroupfs --events-backend none ")


def main():
    runs, key, rc, out, err, work, root = sys.argv[1:8]
    assert sys.argv[8] == "--"
    argv = sys.argv[9:]
    if argv[:2] in (["sh", "-c"], ["bash", "-c"]):
        cmd = argv[2]
    else:
        cmd = " ".join(shlex.quote(a) for a in argv)
    # make.sh's P NAME: a podman with a fresh vfs store of its own
    cmd = re.sub(r"(^|\$\(|\s)P (\S+) ", lambda m: m.group(1) + PODMAN.format(work, m.group(2)),
                 cmd)

    def clean(s):
        return s.replace(work, "<tmp>").replace(root + "/", "")

    rec = {
        "key": key,
        "cmd": clean(cmd),
        "rc": int(rc),
        "stdout": clean(open(out, encoding="utf-8", errors="replace").read()),
        "stderr": clean(open(err, encoding="utf-8", errors="replace").read()),
    }
    with open(runs, "a") as f:
        f.write(json.dumps(rec) + "\n")


if __name__ == "__main__":
    main()
