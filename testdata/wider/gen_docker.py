#!/usr/bin/env python3
"""Scripted docker-archive fixtures: what crane/kaniko and moby 25 write, and hand-made
variants of a skopeo archive. Run by make.sh (`python3 gen_docker.py OUTDIR`); reads only
testdata/corpus and testdata/edge. Every output is deterministic.

- tiny.crane.docker-archive.tar: go-containerregistry pkg/v1/tarball/write.go
  (`MultiRefWrite`, used by `crane pull --format tarball` and kaniko `--tarPath`).
- tiny.docker25.docker-archive.tar: moby image/tarexport/save.go as of v25.0.1/v25.0.2,
  `docker save <image ID>`: index.json `"manifests":null` (moby#47210, fixed in v25.0.3 by
  moby#47294).
- edge.hand-notag / edge.hand-upper: the skopeo archive of testdata/edge with manifest.json's
  RepoTags replaced (["ocisize/edge"], ["UPPER/x:1"]).
- edge.hand-wrongname: the same archive with its config member renamed to a hex that is not
  the digest of its bytes; edge.crane-wrongname: a crane archive whose `sha256:<hex>` config
  member names the wrong digest.
"""

import os
import sys

from golike import (TarWriter, digest, encode, marshal, read_tar_members, reheader, sha256,
                    sorted_map)

HERE = os.path.dirname(os.path.abspath(__file__))
CORPUS = os.path.join(HERE, "..", "corpus")
EDGE = os.path.join(HERE, "..", "edge")

# A digest that names no blob of any fixture: sha256("ocisize: not the config").
WRONG_HEX = sha256(b"ocisize: not the config")


def blob(layout, d):
    with open(os.path.join(layout, "blobs", "sha256", d.split(":")[1]), "rb") as f:
        return f.read()


def oci_image(layout, manifest_digest):
    """(config bytes, [layer blob bytes]) of one manifest of an OCI layout."""
    import json

    m = json.loads(blob(layout, manifest_digest))
    return blob(layout, m["config"]["digest"]), [blob(layout, l["digest"]) for l in m["layers"]]


def crane_tarball(path, ref, config, layers, config_name=None):
    """go-containerregistry pkg/v1/tarball/write.go, writeImagesToTar for one image:
    the config as `sha256:<hex>` (img.ConfigName().String()), each layer once as
    `<compressed hex>.tar.gz` (writeTarEntry: Mode 0644, Typeflag Reg, no owner, zero
    ModTime), then manifest.json = json.Marshal(Manifest{Descriptor{Config, RepoTags,
    Layers}}) (LayerSources is an empty map and `omitempty`)."""
    config_name = config_name or digest(config)
    w = TarWriter(path)
    w.add(config_name, config, mode=0o644)
    names = []
    for layer in layers:
        name = sha256(layer) + ".tar.gz"
        if name not in names:
            w.add(name, layer, mode=0o644)
        names.append(name)
    # dedupRefToImage: a tag "latest" is written as tag.String(), which for "ocisize/tiny"
    # is "index.docker.io/ocisize/tiny:latest" (name.Repository.Name(): registry + repo).
    manifest = [{"Config": config_name, "RepoTags": [ref], "Layers": names}]
    w.add("manifest.json", marshal(manifest), mode=0o644)
    w.close()


def docker25_save_by_id(path, config, layer_tars, legacy_jsons, created, now):
    """moby image/tarexport/save.go (v25.0.1/v25.0.2) for `docker save <ID>`: the image has
    no reference, so `manifestDescriptors` stays nil and index.json says "manifests":null;
    manifest.json has "RepoTags":null and LayerSources for every layer (saveLayer returns a
    descriptor for each, moby#47068/#47072); the OCI manifest lists the layers in order
    (moby#47161) with the config descriptor carrying the image platform. Files are written to
    a temp dir and tarred by pkg/archive (Go FileInfoHeader: type bits in the mode, owner
    root, mtimes set by system.Chtimes: img.Created for layer/config blobs and blobs/,
    the epoch for the manifest blob, blobs/sha256/, manifest.json and oci-layout; index.json
    keeps the time it was written)."""
    diff_ids = [digest(t) for t in layer_tars]
    files = {}  # name -> (bytes, mtime)
    for j in legacy_jsons:  # saveLayer: json.Marshal(legacyImg) written as a blob
        files["blobs/sha256/" + sha256(j)] = (j, created)
    for t in layer_tars:
        files["blobs/sha256/" + sha256(t)] = (t, created)
    files["blobs/sha256/" + sha256(config)] = (config, created)
    layer_type = "application/vnd.oci.image.layer.v1.tar"
    m = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {
            "mediaType": "application/vnd.oci.image.config.v1+json",
            "digest": digest(config),
            "size": len(config),
            "platform": {"architecture": "amd64", "os": "linux"},
        },
        "layers": [
            {"mediaType": layer_type, "digest": d, "size": len(t)}
            for d, t in zip(diff_ids, layer_tars)
        ],
    }
    mbytes = marshal(m)
    files["blobs/sha256/" + sha256(mbytes)] = (mbytes, 0)
    item = {
        "Config": "blobs/sha256/" + sha256(config),
        "RepoTags": None,
        "Layers": ["blobs/sha256/" + d.split(":")[1] for d in diff_ids],
        # distribution.Descriptor: mediaType, size, digest
        "LayerSources": sorted_map({
            d: {"mediaType": layer_type, "size": len(t), "digest": d}
            for d, t in zip(diff_ids, layer_tars)
        }),
    }
    files["manifest.json"] = (encode([item]), 0)
    files["oci-layout"] = (b'{"imageLayoutVersion": "1.0.0"}', 0)
    index = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": None,
    }
    files["index.json"] = (marshal(index), now)
    w = TarWriter(path)
    w.add_dir("blobs/", mode=0o40755, mtime=created, uname="root", gname="root")
    w.add_dir("blobs/sha256/", mode=0o40755, mtime=0, uname="root", gname="root")
    for name in sorted(files):  # filepath.Walk order
        data, mtime = files[name]
        w.add(name, data, mode=0o100644, mtime=mtime, uname="root", gname="root")
    w.close()
    return digest(mbytes)


def rewrite_members(src, dst, edit):
    """Copy a tar entry by entry; edit(name, body) returns (name, body) or None to drop."""
    w = TarWriter(dst)
    for h, name, body in read_tar_members(src):
        new = edit(name, body)
        if new is None:
            continue
        nname, nbody = new
        w.f.write(reheader(h, nname, len(nbody)) if (nname, nbody) != (name, body) else h)
        w.f.write(nbody)
        w.f.write(b"\0" * (-len(nbody) % 512))
    w.close()


def main(out):
    import json

    tiny_oci = os.path.join(CORPUS, "tiny.umoci.oci")
    tiny_manifest = "sha256:ba771aa8f8177c05832bd9394bf29e51f1c89fccca23e84d89ab0d8d840efc92"
    config, layers = oci_image(tiny_oci, tiny_manifest)
    crane_tarball(os.path.join(out, "tiny.crane.docker-archive.tar"),
                  "index.docker.io/ocisize/tiny:latest", config, layers)

    # moby 25: the layer tars and legacy v1 jsons are what dockerd's layer store and
    # v1.CreateID produce, identical to the ones dockerd 20.10 wrote in the corpus save.
    save = {n: b for _, n, b in read_tar_members(os.path.join(CORPUS, "tiny.dockerd.save.tar"))}
    dm = json.loads(save["manifest.json"])[0]
    tars = [save[p] for p in dm["Layers"]]
    jsons = [save[p.replace("layer.tar", "json")] for p in dm["Layers"]]
    created = 1795332923  # img.Created 2026-11-22T07:35:23.4995Z, rounded by archive/tar
    d = docker25_save_by_id(os.path.join(out, "tiny.docker25.docker-archive.tar"),
                            save[dm["Config"]], tars, jsons, created, created + 277)
    print("docker25 manifest", d)

    edge = os.path.join(EDGE, "edge.skopeo.docker-archive.tar")

    def retag(tags):
        def edit(name, body):
            if name == "manifest.json":
                m = json.loads(body)
                m[0]["RepoTags"] = tags
                return name, marshal(m)
            return name, body
        return edit

    rewrite_members(edge, os.path.join(out, "edge.hand-notag.docker-archive.tar"),
                    retag(["ocisize/edge"]))
    rewrite_members(edge, os.path.join(out, "edge.hand-upper.docker-archive.tar"),
                    retag(["UPPER/x:1"]))

    def wrongname(name, body):
        if name.endswith(".json") and len(name) == 69:
            return WRONG_HEX + ".json", body
        if name == "manifest.json":
            m = json.loads(body)
            m[0]["Config"] = WRONG_HEX + ".json"
            return name, marshal(m)
        return name, body

    rewrite_members(edge, os.path.join(out, "edge.hand-wrongname.docker-archive.tar"), wrongname)

    edge_oci = os.path.join(EDGE, "edge.umoci.oci")
    econfig, elayers = oci_image(
        edge_oci, "sha256:8961429c31a99cd86317f0e756c6140d565738b3df0220f18d0f56d5012a611d")
    crane_tarball(os.path.join(out, "edge.crane-wrongname.docker-archive.tar"),
                  "index.docker.io/ocisize/edge:latest", econfig, elayers,
                  config_name="sha256:" + WRONG_HEX)


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else HERE)
