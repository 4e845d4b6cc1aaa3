#!/usr/bin/env python3
"""Turn make.sh's runs file into reference.json: every run verbatim (command, exit status,
stdout, stderr) under its key, JSON output also parsed, ctr tables split into rows, and a
`figures` section that names the numbers the tests compare (each one copied from a run, with
the run's key beside it)."""

import json
import sys

from figures import figures


def parse(run):
    out = run["stdout"]
    try:
        run["json"] = json.loads(out)
        return
    except ValueError:
        pass
    lines = [l for l in out.splitlines() if l.strip()]
    if lines and all(l.startswith("{") for l in lines):
        try:
            run["json"] = [json.loads(l) for l in lines]
            return
        except ValueError:
            pass
    if run["cmd"].startswith("ctr ") and " ls" in run["cmd"] and lines:
        run["rows"] = table(lines)


def table(lines):
    """A tabwriter table: each column starts where its heading starts."""
    head = lines[0]
    starts = [i for i, c in enumerate(head) if c != " " and (i == 0 or head[i - 1] == " ")]
    names = head.split()
    rows = []
    for line in lines[1:]:
        cells = [line[a:b].strip() for a, b in zip(starts, starts[1:] + [len(line)])]
        rows.append(dict(zip(names, cells)))
    return rows


def main():
    runs = {}
    if sys.argv[1] == "--again":  # rebuild the figures from an existing reference.json
        runs = json.load(open(sys.argv[2]))["runs"]
    else:
        for line in open(sys.argv[1]):
            r = json.loads(line)
            key = r.pop("key")
            assert key not in runs, key
            parse(r)
            runs[key] = r
    versions = {k.split(".", 1)[1]: v["stdout"].strip() for k, v in runs.items()
                if k.startswith("versions.")}
    doc = {
        "what": "What real tools printed for the fixtures of testdata/wider (and a few corpus "
                "images). Made by testdata/wider/make.sh; read by crates/ocisize/tests/wider.rs.",
        "tool_versions": versions,
        "figures": figures(runs),
        "runs": runs,
    }
    json.dump(doc, sys.stdout, indent=1, sort_keys=False)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
