"""The `figures` section of reference.json: for each fixture, the numbers and messages the
real tools printed, copied out of the runs (each entry names the run it came from), in the
shape crates/ocisize/tests/wider.rs reads. Nothing here is computed by ocisize's rules; the
one derived number, `containerd.images[].size`, is containerd's own sum (images.Image.Size:
the target + every manifest, config and layer descriptor below it for the default platform)
taken over the documents ctr stored (`ctr content get`) and the fixture's blobs."""

import hashlib
import json
import os

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))


def outcome(run):
    return {"rc": run["rc"], "stdout": run["stdout"], "stderr": run["stderr"]}


def docker(runs, key):
    out = {"images": []}
    if key + ".load" in runs:
        out["load"] = outcome(runs[key + ".load"])
    printed = {}
    rows = runs.get(key + ".images", {}).get("json", []) or []
    for row in [rows] if isinstance(rows, dict) else rows:
        printed[row["ID"]] = row["Size"]
    for img in runs.get(key + ".inspect", {}).get("json", []) or []:
        out["images"].append({"id": img["Id"], "size": img["Size"],
                              "repo_tags": img["RepoTags"], "printed": printed.get(img["Id"]),
                              "from": key + ".inspect"})
    return out


def podman(runs, key, verb):
    out = {verb: outcome(runs[key + "." + verb]), "images": []}
    for img in runs.get(key + ".images", {}).get("json", []) or []:
        out["images"].append({"id": "sha256:" + img["Id"], "size": img["Size"],
                              "digest": img["Digest"], "names": img.get("Names", []),
                              "from": key + ".images"})
    return out


def fixture_blob(layout, digest):
    if layout is None:
        return None
    p = os.path.join(ROOT, layout, "blobs", "sha256", digest.split(":")[1])
    return open(p, "rb").read() if os.path.exists(p) else None


def containerd_size(top: bytes, layout):
    """images.Image.Size with platforms.Default() on linux/amd64."""
    doc = json.loads(top)
    total = len(top)
    if "manifests" in doc:
        child = next(m for m in doc["manifests"]
                     if m.get("platform", {}).get("os") == "linux"
                     and m.get("platform", {}).get("architecture") == "amd64")
        body = fixture_blob(layout, child["digest"])
        return None if body is None else total + containerd_size(body, layout)
    return total + doc["config"]["size"] + sum(l["size"] for l in doc["layers"])


def ctr(runs, key, import_key, layout=None):
    out = {"import": outcome(runs[import_key]), "images": []}
    for row in runs[key + ".images_ls"].get("rows", []):
        get = runs.get(key + ".content_get." + row["DIGEST"])
        top = get["stdout"].encode() if get and get["rc"] == 0 else None
        assert top is None or "sha256:" + hashlib.sha256(top).hexdigest() == row["DIGEST"]
        out["images"].append({
            "ref": row["REF"], "type": row["TYPE"], "digest": row["DIGEST"],
            "printed": row["SIZE"], "platforms": row["PLATFORMS"],
            "size": containerd_size(top, layout) if top else None,
            "from": key + ".images_ls",
        })
    return out


def skopeo(runs, key):
    out = {}
    for what in ("raw", "config", "inspect"):
        k = key if what == "inspect" else key + "." + what
        if k in runs:
            r = runs[k]
            out[what] = outcome(r)
            if what == "raw" and r["rc"] == 0:
                out["raw_digest"] = "sha256:" + hashlib.sha256(r["stdout"].encode()).hexdigest()
    return out


ARCHIVES = {
    "tiny.crane.docker-archive.tar": 1, "tiny-child.dockerd.save.tar": 2,
    "tiny.docker25.docker-archive.tar": 3, "edge.hand-notag.docker-archive.tar": 6,
    "edge.hand-upper.docker-archive.tar": 6, "edge.hand-wrongname.docker-archive.tar": 7,
    "edge.crane-wrongname.docker-archive.tar": 7,
}


def figures(runs):
    f = {}
    for name, case in ARCHIVES.items():
        short = name.replace(".docker-archive.tar", "").replace(".save.tar", "")
        k = "load." + short
        f["testdata/wider/" + name] = {
            "case": case,
            "docker": docker(runs, k + ".docker"),
            "podman": podman(runs, k + ".podman", "load"),
            "containerd": ctr(runs, k + ".ctr", k + ".ctr.import"),
            "skopeo": skopeo(runs, k + ".skopeo"),
        }
    d25 = f["testdata/wider/tiny.docker25.docker-archive.tar"]
    d25["containerd_digests"] = ctr(runs, "case3.ctr_digests", "case3.ctr.import_digests")

    two = f["testdata/wider/tiny-child.dockerd.save.tar"]
    two["skopeo_at"] = [skopeo(runs, "case8.skopeo.at%d" % i) for i in (0, 1)]
    two["skopeo_noref"] = outcome(runs["case8.skopeo.noref"])
    two["docker_build"] = docker(runs, "case2.docker")

    art = "testdata/wider/artifacts.oras.oci"
    tags = {}
    for t in ("tiny", "note", "0.1.0", "sig", "buildx"):
        tags[t] = {"skopeo": skopeo(runs, "case4.skopeo." + t),
                   "podman": podman(runs, "case4.podman." + t, "pull")}
    f[art] = {
        "case": 4,
        "tags": tags,
        "skopeo_noref": outcome(runs["case4.skopeo.noref"]),
        "podman_noref": outcome(runs["case4.podman.noref.pull"]),
        "containerd": ctr(runs, "case4.ctr", "case4.ctr.import", art),
        "containerd_no_unpack": ctr(runs, "case4.ctr_no_unpack", "case4.ctr.import_no_unpack",
                                    art),
    }

    part = "testdata/wider/multi-amd64only.skopeo.oci"
    f[part] = {
        "case": 5,
        "copy": outcome(runs["case5.copy"]),
        "skopeo": skopeo(runs, "case5.skopeo"),
        "skopeo_arm64": outcome(runs["case5.skopeo.arm64"]),
        "skopeo_copy_all": outcome(runs["case5.skopeo.copy_all"]),
        "podman": podman(runs, "case5.podman", "pull"),
        "podman_arm64": outcome(runs["case5.podman.pull_arm64"]),
    }

    v2s2 = "testdata/wider/tiny.hand.oci-v2s2"
    f[v2s2] = {
        "case": 10,
        "skopeo": skopeo(runs, "case10.skopeo"),
        "podman": podman(runs, "case10.podman", "pull"),
        "podman_load": podman(runs, "case10.podman_load", "load"),
        "containerd": ctr(runs, "case10.ctr", "case10.ctr.import", v2s2),
    }
    f["testdata/corpus/tiny.ctr.export-from-docker-archive.tar"] = {
        "case": 10,
        "skopeo": {"inspect": outcome(runs["case10.ctr_export.skopeo"])},
        "podman": podman(runs, "case10.ctr_export.podman", "pull"),
        "podman_load": podman(runs, "case10.ctr_export.podman_load", "load"),
    }

    df = {"case": 9, "docker": docker(runs, "case9.docker")}
    for client in ("v20", "v28"):
        df["df_" + client] = outcome(runs["case9.df_" + client])
        df["images_" + client] = outcome(runs["case9.images_" + client])
        df["df_rows_" + client] = df_rows(runs["case9.df_" + client]["stdout"])
    f["testdata/corpus/tiny.dockerd.save.tar"] = df
    return f


def df_rows(text):
    """The `Images space usage` table of `docker system df -v`."""
    lines = text.splitlines()
    i = lines.index("Images space usage:") + 2
    head = lines[i]
    cols = ["REPOSITORY", "TAG", "IMAGE ID", "CREATED", "SIZE", "SHARED SIZE", "UNIQUE SIZE",
            "CONTAINERS"]
    starts = [head.index(c) for c in cols]
    rows = []
    for line in lines[i + 1:]:
        if not line.strip():
            break
        cells = [line[a:b].strip() for a, b in zip(starts, starts[1:] + [len(line)])]
        rows.append(dict(zip(cols, cells)))
    return rows
