#!/usr/bin/env python3
"""Scripted OCI layouts: artifacts next to images (what oras, helm, cosign and buildkit
write), and a Docker v2s2 manifest inside an OCI layout. Run by make.sh
(`python3 gen_oci.py OUTDIR`); reads only testdata/corpus. Deterministic.

artifacts.oras.oci is an OCI layout as oras-go's content/oci Store writes it
(`oras cp --to-oci-layout` of each item from a registry): index.json is
json.Marshal(ocispec.Index{schemaVersion 2, mediaType index, manifests}) with the tagged
descriptors first (org.opencontainers.image.ref.name added, content/oci/oci.go saveIndex),
then the untagged ones. It holds:

- tag `tiny`: the corpus image (umoci's manifest bytes, unchanged).
- tag `note`: `oras push --artifact-type application/vnd.ocisize.note.v1 note.txt:text/plain`:
  oras-go pack.go packManifestV1_1 (image-spec v1.1 manifest, artifactType, config =
  ocispec.DescriptorEmptyJSON with its `data`, created annotation); the index descriptor
  carries artifactType and the manifest annotations (pushManifest).
- tag `0.1.0`: `helm push tinychart-0.1.0.tgz`: helm pkg/registry/client.go Push +
  tagManifest (ocispec.Manifest without mediaType, config
  application/vnd.cncf.helm.config.v1+json = json.Marshal(chart.Metadata), one layer
  application/vnd.cncf.helm.chart.content.v1.tar+gzip, generateOCIAnnotations).
- tag `sha256-<hex>.sig`: `cosign sign --key`: the signature image cosign builds with
  go-containerregistry (pkg/oci/empty Signatures with OCI media types, mutate.Append of a
  static layer application/vnd.dev.cosign.simplesigning.v1+json annotated
  dev.cosignproject.cosign/signature, pkg/oci/mutate/signatures.go CreatedAt; ggcr's
  ConfigFile and Manifest field order).
- untagged: `cosign attest --new-bundle-format` referrer: cosign pkg/oci/remote/write.go
  WriteAttestationNewBundleFormat/WriteReferrer (empty config `{}` typed
  application/vnd.oci.empty.v1+json with artifactType, one sigstore bundle v0.3 layer,
  subject = the `tiny` manifest, referrerManifest = ggcr v1.Manifest + artifactType).
- tag `buildx`: `docker buildx build --platform linux/amd64 --attest type=provenance`: buildkit
  exporter/containerimage/writer.go (index and manifests MarshalIndent with two spaces and
  mediaType first; attestation manifest with platform unknown/unknown, annotations
  vnd.docker.reference.type=attestation-manifest and vnd.docker.reference.digest; config from
  attestationsConfig; image config re-serialised by patchImageConfig).

tiny.hand.oci-v2s2 is an OCI layout whose index.json (containerd 1.6's archive exporter
format, as in corpus/tiny.ctr.export-from-docker-archive.tar) points at a Docker v2s2
manifest: the blobs of corpus/tiny.skopeo.dir-v2s2, unchanged.
"""

import base64
import gzip
import io
import json
import os
import shutil
import sys

from golike import digest, marshal, marshal_indent, sha256, sorted_map, tar_header

HERE = os.path.dirname(os.path.abspath(__file__))
CORPUS = os.path.join(HERE, "..", "corpus")

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
EMPTY_JSON = "application/vnd.oci.empty.v1+json"
CREATED = "2026-11-22T07:40:00Z"
TINY_MANIFEST = "sha256:ba771aa8f8177c05832bd9394bf29e51f1c89fccca23e84d89ab0d8d840efc92"


class Layout:
    def __init__(self, path):
        if os.path.exists(path):
            shutil.rmtree(path)
        os.makedirs(os.path.join(path, "blobs", "sha256"))
        self.path = path

    def put(self, data: bytes) -> dict:
        with open(os.path.join(self.path, "blobs", "sha256", sha256(data)), "wb") as f:
            f.write(data)
        return {"digest": digest(data), "size": len(data)}

    def write(self, name, data: bytes):
        with open(os.path.join(self.path, name), "wb") as f:
            f.write(data)


def corpus_blob(layout, d):
    with open(os.path.join(CORPUS, layout, "blobs", "sha256", d.split(":")[1]), "rb") as f:
        return f.read()


def desc(media_type, blob, **extra):
    """ocispec.Descriptor field order: mediaType, digest, size, urls, annotations, data,
    platform, artifactType."""
    d = {"mediaType": media_type, "digest": digest(blob), "size": len(blob)}
    for k in ("annotations", "data", "platform", "artifactType"):
        if k in extra:
            d[k] = extra[k]
    return d


def ggcr_desc(media_type, data, annotations=None, artifact_type=None):
    """go-containerregistry v1.Descriptor order: mediaType, size, digest, ..., annotations,
    platform, artifactType."""
    d = {"mediaType": media_type, "size": len(data), "digest": digest(data)}
    if annotations:
        d["annotations"] = sorted_map(annotations)
    if artifact_type:
        d["artifactType"] = artifact_type
    return d


def tagged(d, tag):
    out = dict(d)
    out["annotations"] = sorted_map({**d.get("annotations", {}),
                                     "org.opencontainers.image.ref.name": tag})
    # keep the ocispec field order: annotations before artifactType
    if "artifactType" in out:
        out["artifactType"] = out.pop("artifactType")
    return out


def tiny_image(lay):
    m = corpus_blob("tiny.umoci.oci", TINY_MANIFEST)
    mj = json.loads(m)
    lay.put(corpus_blob("tiny.umoci.oci", mj["config"]["digest"]))
    for l in mj["layers"]:
        lay.put(corpus_blob("tiny.umoci.oci", l["digest"]))
    lay.put(m)
    return desc(OCI_MANIFEST, m), mj


def oras_note(lay):
    empty = b"{}"
    lay.put(empty)
    note = b"ocisize: an artifact that is not an image\n"
    lay.put(note)
    annotations = {"org.opencontainers.image.created": CREATED}
    manifest = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "artifactType": "application/vnd.ocisize.note.v1",
        "config": desc(EMPTY_JSON, empty, data=base64.b64encode(empty).decode()),
        "layers": [desc("text/plain", note,
                        annotations={"org.opencontainers.image.title": "note.txt"})],
        "annotations": annotations,
    }
    m = marshal(manifest)
    lay.put(m)
    return desc(OCI_MANIFEST, m, annotations=annotations,
                artifactType="application/vnd.ocisize.note.v1")


def go_gzip(data: bytes) -> bytes:
    # helm package writes the chart with compress/gzip; the chart bytes are only ever
    # measured and digested, so Python's gzip (mtime 0) stands in for them.
    buf = io.BytesIO()
    with gzip.GzipFile(fileobj=buf, mode="wb", mtime=0) as g:
        g.write(data)
    return buf.getvalue()


def helm_chart(lay):
    chart_yaml = (b"apiVersion: v2\nname: tinychart\nversion: 0.1.0\n"
                  b"description: ocisize fixture chart\nappVersion: 1.0.0\ntype: application\n")
    tw = io.BytesIO()
    for name, body in (("tinychart/Chart.yaml", chart_yaml), ("tinychart/values.yaml", b"{}\n")):
        tw.write(tar_header(name, len(body), mode=0o644))
        tw.write(body + b"\0" * (-len(body) % 512))
    tw.write(b"\0" * 1024)
    tgz = go_gzip(tw.getvalue())
    # chart.Metadata field order: name, home, sources, version, description, keywords,
    # maintainers, icon, apiVersion, condition, tags, appVersion, deprecated, annotations,
    # kubeVersion, dependencies, type (all omitempty).
    meta = {"name": "tinychart", "version": "0.1.0", "description": "ocisize fixture chart",
            "apiVersion": "v2", "appVersion": "1.0.0", "type": "application"}
    config = marshal(meta)
    lay.put(config)
    lay.put(tgz)
    manifest = {
        "schemaVersion": 2,
        "config": desc("application/vnd.cncf.helm.config.v1+json", config),
        "layers": [desc("application/vnd.cncf.helm.chart.content.v1.tar+gzip", tgz)],
        "annotations": sorted_map({
            "org.opencontainers.image.created": CREATED,
            "org.opencontainers.image.description": "ocisize fixture chart",
            "org.opencontainers.image.title": "tinychart",
            "org.opencontainers.image.version": "0.1.0",
        }),
    }
    m = marshal(manifest)
    lay.put(m)
    return desc(OCI_MANIFEST, m)


def cosign_signature(lay):
    payload = marshal({
        "critical": {
            "identity": {"docker-reference": "index.docker.io/ocisize/tiny"},
            "image": {"docker-manifest-digest": TINY_MANIFEST},
            "type": "cosign container image signature",
        },
        "optional": None,
    })
    lay.put(payload)
    sig = base64.b64encode(sha256(b"ocisize: not a real signature").encode()[:48]).decode()
    config = marshal({
        "architecture": "",
        "created": "2026-11-22T07:40:00.123456789Z",
        "history": [{"created": "0001-01-01T00:00:00Z"}],
        "os": "",
        "rootfs": {"type": "layers", "diff_ids": [digest(payload)]},
        "config": {},
    })
    lay.put(config)
    manifest = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": ggcr_desc(OCI_CONFIG, config),
        "layers": [ggcr_desc("application/vnd.dev.cosign.simplesigning.v1+json", payload,
                             annotations={"dev.cosignproject.cosign/signature": sig})],
    }
    m = marshal(manifest)
    lay.put(m)
    return desc(OCI_MANIFEST, m)


def cosign_attestation(lay, subject_bytes):
    bundle_type = "application/vnd.dev.sigstore.bundle.v0.3+json"
    statement = marshal({"_type": "https://in-toto.io/Statement/v1",
                         "subject": [{"name": "index.docker.io/ocisize/tiny",
                                      "digest": {"sha256": TINY_MANIFEST.split(":")[1]}}],
                         "predicateType": "https://slsa.dev/provenance/v1",
                         "predicate": {"buildDefinition": {"buildType": "ocisize-fixture"}}})
    bundle = marshal({
        "mediaType": bundle_type,
        "verificationMaterial": {"publicKey": {"hint": "ocisize"}},
        "dsseEnvelope": {"payload": base64.b64encode(statement).decode(),
                         "payloadType": "application/vnd.in-toto+json",
                         "signatures": [{"sig": base64.b64encode(b"not a signature").decode()}]},
    })
    empty = b"{}"
    lay.put(empty)
    lay.put(bundle)
    annotations = sorted_map({
        "org.opencontainers.image.created": CREATED,
        "dev.sigstore.bundle.content": "dsse-envelope",
        "dev.sigstore.bundle.predicateType": "https://slsa.dev/provenance/v1",
    })
    manifest = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": ggcr_desc(EMPTY_JSON, empty, artifact_type=bundle_type),
        "layers": [ggcr_desc(bundle_type, bundle)],
        "annotations": annotations,
        "subject": ggcr_desc(OCI_MANIFEST, subject_bytes),
        "artifactType": bundle_type,
    }
    m = marshal(manifest)
    lay.put(m)
    # the descriptor the registry's referrers API returns, kept by oras-go's store
    return desc(OCI_MANIFEST, m, annotations=annotations, artifactType=bundle_type)


def buildx_index(lay, tiny):
    # patchImageConfig: the config as a map of raw fields, rootfs and history re-marshalled,
    # buildinfo removed, then json.Marshal(map) (keys sorted, raw values compacted).
    cfg = json.loads(corpus_blob("tiny.umoci.oci", tiny["config"]["digest"]))
    config = marshal(sorted_map(cfg))
    lay.put(config)
    layers = [{"mediaType": l["mediaType"], "digest": l["digest"], "size": l["size"]}
              for l in tiny["layers"]]
    image = marshal_indent({"mediaType": OCI_MANIFEST, "schemaVersion": 2,
                            "config": desc(OCI_CONFIG, config), "layers": layers}, "  ")
    lay.put(image)
    statement = marshal({
        "_type": "https://in-toto.io/Statement/v0.1",
        "predicateType": "https://slsa.dev/provenance/v0.2",
        "subject": [{"name": "pkg:docker/ocisize/tiny@latest?platform=linux%2Famd64",
                     "digest": {"sha256": sha256(image)}}],
        "predicate": {"builder": {"id": ""}, "buildType": "https://mobyproject.org/buildkit@v1",
                      "metadata": {"buildInvocationID": "ocisize-fixture",
                                   "reproducible": False}},
    })
    lay.put(statement)
    att_layer = desc("application/vnd.in-toto+json", statement,
                     annotations={"in-toto.io/predicate-type": "https://slsa.dev/provenance/v0.2"})
    att_config = marshal({"architecture": "unknown", "os": "unknown", "config": {},
                          "rootfs": {"type": "layers", "diff_ids": [digest(statement)]}})
    lay.put(att_config)
    att = marshal_indent({"mediaType": OCI_MANIFEST, "schemaVersion": 2,
                          "config": desc(OCI_CONFIG, att_config), "layers": [att_layer]}, "  ")
    lay.put(att)
    index = marshal_indent({
        "mediaType": OCI_INDEX,
        "schemaVersion": 2,
        "manifests": [
            desc(OCI_MANIFEST, image, platform={"architecture": "amd64", "os": "linux"}),
            desc(OCI_MANIFEST, att,
                 annotations={"vnd.docker.reference.digest": digest(image),
                              "vnd.docker.reference.type": "attestation-manifest"},
                 platform={"architecture": "unknown", "os": "unknown"}),
        ],
    }, "  ")
    lay.put(index)
    return desc(OCI_INDEX, index), digest(image), digest(att)


def artifacts(out):
    lay = Layout(os.path.join(out, "artifacts.oras.oci"))
    lay.write("oci-layout", marshal({"imageLayoutVersion": "1.0.0"}))
    tiny_desc, tiny = tiny_image(lay)
    note = oras_note(lay)
    chart = helm_chart(lay)
    sig = cosign_signature(lay)
    att = cosign_attestation(lay, corpus_blob("tiny.umoci.oci", TINY_MANIFEST))
    bx, bx_image, bx_att = buildx_index(lay, tiny)
    manifests = [
        tagged(tiny_desc, "tiny"),
        tagged(note, "note"),
        tagged(chart, "0.1.0"),
        tagged(sig, "sha256-" + TINY_MANIFEST.split(":")[1] + ".sig"),
        tagged(bx, "buildx"),
        att,
    ]
    lay.write("index.json", marshal({"schemaVersion": 2, "mediaType": OCI_INDEX,
                                     "manifests": manifests}))
    for name, d in (("note", note), ("chart", chart), ("signature", sig), ("attestation", att),
                    ("buildx index", bx)):
        print(name, d["digest"])
    print("buildx image", bx_image, "buildx attestation", bx_att)


def v2s2_in_oci(out):
    lay = Layout(os.path.join(out, "tiny.hand.oci-v2s2"))
    src = os.path.join(CORPUS, "tiny.skopeo.dir-v2s2")
    m = open(os.path.join(src, "manifest.json"), "rb").read()
    for d in [json.loads(m)["config"]] + json.loads(m)["layers"]:
        lay.put(open(os.path.join(src, d["digest"].split(":")[1]), "rb").read())
    lay.put(m)
    lay.write("oci-layout", marshal({"imageLayoutVersion": "1.0.0"}))
    entry = desc("application/vnd.docker.distribution.manifest.v2+json", m,
                 annotations={"io.containerd.image.name": "docker.io/ocisize/tiny:latest",
                              "org.opencontainers.image.ref.name": "latest"})
    lay.write("index.json", marshal({"schemaVersion": 2, "manifests": [entry]}))
    print("v2s2 manifest", entry["digest"])


if __name__ == "__main__":
    target = sys.argv[1] if len(sys.argv) > 1 else HERE
    artifacts(target)
    v2s2_in_oci(target)
