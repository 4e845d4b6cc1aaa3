#!/usr/bin/env bash
# Makes meta.db and metadata.db in this folder with the real containerd (1.6.20, Debian):
# a private containerd (root, state, socket and config under a temp dir, inside
# `unshare --mount` with a tmpfs over /run) imports two corpus images, one per namespace,
# unpacks them with the overlayfs snapshotter, gets an image label, an active and a view
# snapshot and a lease; the figures ctr prints are kept in figures.json; containerd is
# stopped by its PID and both databases are copied here.
#
# Usage (as root): bash testdata/bbolt/make.sh
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
corpus=$here/../corpus

if [ -z "${OCISIZE_MAKE_IN_NS:-}" ]; then
    exec unshare --mount --propagation private env OCISIZE_MAKE_IN_NS=1 bash "$0" "$@"
fi
mount -t tmpfs tmpfs /run

scratch=$(mktemp -d /tmp/ocisize-bbolt.XXXXXX)
root=$scratch/root
sock=$scratch/containerd.sock
out=$scratch/out
mkdir -p "$root" "$scratch/state" "$out"
cat >"$scratch/config.toml" <<EOF
version = 2
root = "$root"
state = "$scratch/state"
disabled_plugins = ["io.containerd.grpc.v1.cri"]
[grpc]
  address = "$sock"
[ttrpc]
  address = "$sock.ttrpc"
[plugins."io.containerd.internal.v1.opt"]
  path = "$scratch/opt"
EOF

containerd --config "$scratch/config.toml" >"$scratch/containerd.log" 2>&1 &
pid=$!
stop() {
    if kill -0 "$pid" 2>/dev/null; then
        kill -TERM "$pid"
        wait "$pid" || true
    fi
}
trap stop EXIT
for _ in $(seq 100); do
    ctr -a "$sock" version >/dev/null 2>&1 && break
    sleep 0.1
done

c() { ctr -a "$sock" "$@"; }
c -n default images import --base-name docker.io/ocisize/tiny \
    "$corpus/tiny.skopeo.oci-archive.tar" >"$out/import-default.out"
c -n k8s.io images import --base-name docker.io/ocisize/debslice \
    "$corpus/debslice.skopeo.oci-archive.tar" >"$out/import-k8s.io.out"
c -n default images label docker.io/ocisize/tiny:latest ocisize.test=fixture >/dev/null
# The top layer of the tiny image (the chain ID of its four layers) as the parent of an
# active and a view snapshot.
top=$(c -n default snapshots ls | awk 'NR > 1 { key[$1] = 1; if ($2 != "") par[$2] = 1 }
    END { for (k in key) if (!(k in par)) print k }')
c -n default snapshots prepare ocisize-active "$top" >/dev/null
c -n default snapshots view ocisize-view "$top" >/dev/null
# ctr labels a prepared snapshot as a GC root but not a view: without one the next garbage
# collection removes it.
c -n default snapshots label ocisize-view containerd.io/gc.root=ocisize >/dev/null
c -n default leases create --id ocisize-lease --expires 0 ocisize.test=lease >/dev/null
# A third namespace whose images bucket spans many pages (a B+tree with a branch page) and
# whose first image has a labels bucket too big for one page (a page with overflow pages):
# 200 tags of the tiny image, and three labels of 3,000 bytes each.
c -n ocisize-many images import --base-name docker.io/ocisize/tiny \
    "$corpus/tiny.skopeo.oci-archive.tar" >"$out/import-ocisize-many.out"
c -n ocisize-many images tag docker.io/ocisize/tiny:latest \
    $(seq -f 'docker.io/ocisize/tiny:tag%03g' 1 200) >/dev/null
big=$(printf 'x%.0s' $(seq 3000))
c -n ocisize-many images label docker.io/ocisize/tiny:latest \
    "ocisize.big.1=$big" "ocisize.big.2=$big" "ocisize.big.3=$big" >/dev/null

for ns in default k8s.io ocisize-many; do
    c -n "$ns" images ls >"$out/images-ls-$ns.out"
    c -n "$ns" content ls >"$out/content-ls-$ns.out"
    c -n "$ns" snapshots ls >"$out/snapshots-ls-$ns.out"
    c -n "$ns" snapshots usage -b >"$out/snapshots-usage-$ns.out"
    c -n "$ns" leases ls >"$out/leases-ls-$ns.out"
    for k in $(awk 'NR > 1 { print $1 }' "$out/snapshots-ls-$ns.out"); do
        c -n "$ns" snapshots info "$k" >"$out/snapshot-info-$ns-$(echo "$k" | tr : _).json"
    done
done
find "$root/io.containerd.content.v1.content/blobs" -type f -printf '%f %s\n' | sort \
    >"$out/content-store-sizes.out"
grep -q '^ocisize-view ' "$out/snapshots-ls-default.out" || { echo "the view was collected" >&2; exit 1; }
c version | sed -n 's/^ *Version: *//p' | head -1 >"$out/version.out"

stop
trap - EXIT
cp "$root/io.containerd.metadata.v1.bolt/meta.db" "$here/meta.db"
cp "$root/io.containerd.snapshotter.v1.overlayfs/metadata.db" "$here/metadata.db"

python3 - "$out" "$here/figures.json" <<'EOF'
import json, pathlib, sys
out, dest = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])
def labels(text):
    return dict(kv.split("=", 1) for kv in text.split(",")) if text not in ("", "-") else {}
def rows(name):
    lines = (out / name).read_text().splitlines()
    return [line.split() for line in lines[1:] if line.strip()]
figures = {
    "_about": "What containerd 1.6.20's ctr printed for the state stored in meta.db and "
              "metadata.db (made by make.sh; every figure is ctr's own output, parsed).",
    "containerd_version": (out / "version.out").read_text().strip(),
    "namespaces": {},
    "content_store_sizes": {"sha256:" + h: int(n) for h, n in
                            (l.split() for l in (out / "content-store-sizes.out").read_text().splitlines())},
}
for ns in ("default", "k8s.io", "ocisize-many"):
    images = [{"ref": r[0], "type": r[1], "digest": r[2], "size_printed": " ".join(r[3:5]),
               "platforms": r[5], "labels": labels(r[6])} for r in rows(f"images-ls-{ns}.out")]
    for i in images:  # the 3,000-byte labels: their length, not their text
        i["labels"] = {k: v if len(v) < 100 else f"<{len(v)} x {v[0]!r}>" for k, v in i["labels"].items()}
    content = []
    for line in (out / f"content-ls-{ns}.out").read_text().splitlines()[1:]:
        # Tab-separated: DIGEST, SIZE (humanized), AGE, LABELS (k=v,k=v or empty).
        f = [x for x in line.split("\t") if x]
        content.append({"digest": f[0], "size_printed": f[1],
                        "labels": labels(f[3] if len(f) > 3 else "")})
    snapshots = []
    for r in rows(f"snapshots-ls-{ns}.out"):
        key = r[0]
        info = json.loads((out / f"snapshot-info-{ns}-{key.replace(':', '_')}.json").read_text())
        snapshots.append({"key": key, "parent": info.get("Parent", ""), "kind": info["Kind"],
                          "labels": info.get("Labels", {}), "created": info["Created"],
                          "updated": info["Updated"]})
    usage = {r[0]: {"size": int(r[1]), "inodes": int(r[2])}
             for r in rows(f"snapshots-usage-{ns}.out")}
    leases = [{"id": r[0], "created_at": r[1], "labels": labels(r[2])}
              for r in rows(f"leases-ls-{ns}.out")]
    figures["namespaces"][ns] = {
        "images_ls": images, "content_ls": content, "snapshots_info": snapshots,
        "snapshots_usage_bytes": usage, "leases_ls": leases,
        "import": (out / f"import-{ns}.out").read_text(),
    }
dest.write_text(json.dumps(figures, indent=1, sort_keys=True) + "\n")
EOF
[ -n "${OCISIZE_KEEP:-}" ] || rm -rf "$scratch"
ls -l "$here"
