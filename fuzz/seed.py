#!/usr/bin/env python3
"""Seed every fuzz target's corpus from the real-tool images in testdata/corpus.

Usage: python3 fuzz/seed.py   (writes fuzz/corpus/<target>/, which git ignores)
"""
import hashlib, io, json, os, pathlib, tarfile

root = pathlib.Path(__file__).resolve().parent
corpus = root.parent / "testdata" / "corpus"
out = root / "corpus"


def put(target, data):
    d = out / target
    d.mkdir(parents=True, exist_ok=True)
    (d / hashlib.sha1(data).hexdigest()).write_bytes(data)


def small_archive(members):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.GNU_FORMAT) as t:
        for name, data in members:
            ti = tarfile.TarInfo(name)
            ti.size = len(data)
            t.addfile(ti, io.BytesIO(data))
    return buf.getvalue()


docs = []
for p in corpus.rglob("*"):
    if p.is_file() and p.stat().st_size < 64 * 1024 and p.name != "reference.json":
        data = p.read_bytes()
        if data[:1] in (b"{", b"["):
            docs.append((p, data))
for p, data in docs:
    try:
        v = json.loads(data)
    except ValueError:
        continue
    if isinstance(v, list):
        put("docker_manifest", data)
    elif "rootfs" in v:
        put("config", data)
    elif "manifests" in v:
        put("layout_index", data)
        put("manifest", data)
    elif "config" in v:
        put("manifest", data)
# docker-archive manifest.json files live inside the archives.
for p in sorted(corpus.glob("*.tar")):
    with tarfile.open(p) as t:
        for m in t.getmembers():
            if m.name in ("manifest.json", "index.json", "repositories") and m.isfile():
                data = t.extractfile(m).read()
                put("docker_manifest" if m.name == "manifest.json" else "layout_index", data)
for p in (corpus / "tiny.umoci.oci" / "blobs" / "sha256").iterdir():
    if p.stat().st_size < 4096:
        put("layer", p.read_bytes())
        put("tar_walker", b"\x00\x02" + p.read_bytes())
for p in (corpus / "tiny.skopeo.oci-zstd" / "blobs" / "sha256").iterdir():
    if p.stat().st_size < 4096:
        put("layer", p.read_bytes())
for s in ["sha256:" + "a" * 64, "sha512:" + "b" * 128, "md5:00", "sha256:"]:
    put("digest", s.encode())
for s in ["nginx", "docker.io/library/nginx:1.0", "localhost:5000/a/b@sha256:" + "c" * 64, "latest"]:
    put("reference", s.encode())
put("units", (999_999).to_bytes(8, "little"))
# Small whole archives: the tiny umoci layout as an oci-archive, with only the two small
# layers' blobs (so the seeds stay small; the rest is reported missing).
lay = corpus / "tiny.umoci.oci"
members = [("oci-layout", (lay / "oci-layout").read_bytes()), ("index.json", (lay / "index.json").read_bytes())]
for p in sorted((lay / "blobs" / "sha256").iterdir()):
    if p.stat().st_size < 4096:
        members.append((f"blobs/sha256/{p.name}", p.read_bytes()))
arch = small_archive(members)
dock = small_archive([
    ("manifest.json", b'[{"Config":"c.json","RepoTags":["a/b:c"],"Layers":["l.tar"]}]'),
    ("c.json", b'{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}'),
    ("l.tar", bytes(1024)),
])
for t in ("archive_detect", "inspect_file", "inspect_stdin"):
    put(t, arch)
    put(t, dock)
# bbolt: containerd's snapshotter database (64 KiB, 13 pages in use) whole and cut short;
# meta.db is 2 MiB, past -max_len, so only its first pages (its meta pages) go in.
bolt = root.parent / "testdata" / "bbolt"
snap = (bolt / "metadata.db").read_bytes()
for n in (len(snap), 13 * 4096, 8 * 4096):
    put("bbolt", snap[:n])
put("bbolt", (bolt / "meta.db").read_bytes()[:4 * 4096])
print("seeded", sum(1 for _ in out.rglob("*") if _.is_file()), "inputs in", out)
