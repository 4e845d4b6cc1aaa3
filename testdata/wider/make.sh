#!/bin/bash
# Rebuilds testdata/wider: the scripted fixtures (gen_docker.py, gen_oci.py), the ones made
# by real tools (dockerd 20.10 `docker save`, skopeo copy), and reference.json, which holds
# every command run against them and what it printed. Rerunnable: `testdata/wider/make.sh`
# (as root: it starts private dockerd, containerd and podman stores).
#
# Everything runs inside `unshare --mount` with tmpfs over /run, /var/lib/containers,
# /var/lib/docker and /etc/docker; every daemon has its root, state and socket under a
# private temp dir and is stopped by its PID, also on failure.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
if [ -z "${OCISIZE_WIDER_NS:-}" ]; then
  exec env OCISIZE_WIDER_NS=1 unshare --mount --propagation private "$0" "$@"
fi
for d in /run /var/lib/containers /var/lib/docker /etc/docker; do
  mkdir -p "$d" && mount -t tmpfs tmpfs "$d"
done

WORK=$(mktemp -d /tmp/ocw.XXXXXX)  # short: podman refuses a runroot over 50 characters
export TMPDIR=$WORK/tmp
mkdir -p "$TMPDIR"
RUNS=$WORK/runs.jsonl
: >"$RUNS"
. "$HERE/lib.sh"
cleanup() { stop_dockerd || true; stop_containerd || true; rm -rf "$WORK"; }
trap cleanup EXIT

# rec KEY ARGV...: run, never fail, append {key, cmd, rc, stdout, stderr} to $RUNS.
rec() {
  local key=$1 rc=0; shift
  "$@" >"$WORK/out" 2>"$WORK/err" || rc=$?
  python3 "$HERE/record.py" "$RUNS" "$key" "$rc" "$WORK/out" "$WORK/err" "$WORK" "$ROOT" -- "$@"
}
W=testdata/wider
C=testdata/corpus
cd "$ROOT"

# podman with a fresh vfs store per name: P NAME ARGS...
P() { local s=$WORK/p-$1; shift; podman --root "$s/root" --runroot "$s/run" \
  --storage-driver vfs --cgroup-manager cgroupfs --events-backend none "$@"; }
# every figure podman has for the images of a store
podman_figures() { # KEY STORE
  rec "$1.images" P "$2" images --all --no-trunc --format json
  rec "$1.inspect" bash -c "P $2 image inspect \$(P $2 images --all --quiet --no-trunc)"
}
docker_figures() { # KEY
  rec "$1.images" $DOCKER20 -H "$DSOCK" images --all --no-trunc --format '{{json .}}'
  rec "$1.inspect" bash -c "$DOCKER20 -H $DSOCK image inspect \$($DOCKER20 -H $DSOCK images --all --quiet --no-trunc)"
}
ctr_figures() { # KEY NAMESPACE; also the manifest (or index) each image points at
  rec "$1.images_ls" ctr -a "$CSOCK" -n "$2" images ls
  rec "$1.content_ls" ctr -a "$CSOCK" -n "$2" content ls
  local d
  for d in $(ctr -a "$CSOCK" -n "$2" images ls | awk 'NR > 1 { print $3 }' | sort -u); do
    rec "$1.content_get.$d" ctr -a "$CSOCK" -n "$2" content get "$d"
  done
}
export -f P
export WORK

rec versions.skopeo skopeo --version
rec versions.podman podman --version
rec versions.dockerd dockerd --version
rec versions.docker20 $DOCKER20 --version
rec versions.docker28 $DOCKER28 --version
rec versions.containerd containerd --version
rec versions.ctr ctr --version

# ---- scripted fixtures -----------------------------------------------------------------
python3 "$HERE/gen_docker.py" "$HERE"
python3 "$HERE/gen_oci.py" "$HERE"

start_containerd
start_dockerd vfs build

# ---- case 2 (and 8): docker save of a parent and a child, dockerd 20.10 -----------------
mkdir -p "$WORK/child"
printf 'ocisize child layer\n' >"$WORK/child/child.txt"
printf 'FROM ocisize/tiny:latest\nCOPY child.txt /data/child.txt\n' >"$WORK/child/Dockerfile"
rec case2.load_parent $DOCKER20 -H "$DSOCK" load -i $C/tiny.dockerd.save.tar
rec case2.build env DOCKER_BUILDKIT=0 $DOCKER20 -H "$DSOCK" build -t ocisize/tiny-child:latest "$WORK/child"
rec case2.save $DOCKER20 -H "$DSOCK" save -o $W/tiny-child.dockerd.save.tar \
  ocisize/tiny:latest ocisize/tiny-child:latest
docker_figures case2.docker

# ---- case 9: docker system df -v, both clients, one image (corpus tiny) -----------------
stop_dockerd
start_dockerd vfs df
rec case9.load $DOCKER20 -H "$DSOCK" load -i $C/tiny.dockerd.save.tar
rec case9.df_v20 $DOCKER20 -H "$DSOCK" system df -v
rec case9.df_v28 $DOCKER28 -H "$DSOCK" system df -v
rec case9.images_v20 $DOCKER20 -H "$DSOCK" images
rec case9.images_v28 $DOCKER28 -H "$DSOCK" images
docker_figures case9.docker

# ---- docker load of every docker-archive, one fresh daemon each ------------------------
for f in tiny.crane tiny.docker25 edge.hand-notag edge.hand-upper edge.hand-wrongname \
  edge.crane-wrongname tiny-child.dockerd; do
  file=$W/$f.docker-archive.tar
  [ -f "$file" ] || file=$W/$f.save.tar
  stop_dockerd
  start_dockerd vfs "load-$f"
  rec "load.$f.docker.load" $DOCKER20 -H "$DSOCK" load -i "$file"
  docker_figures "load.$f.docker"
done
stop_dockerd

# ---- podman load / skopeo inspect / ctr import of every docker-archive ------------------
n=0
for f in tiny.crane tiny.docker25 edge.hand-notag edge.hand-upper edge.hand-wrongname \
  edge.crane-wrongname tiny-child.dockerd; do
  file=$W/$f.docker-archive.tar
  [ -f "$file" ] || file=$W/$f.save.tar
  n=$((n + 1))
  rec "load.$f.podman.load" P "load$n" load -i "$file"
  podman_figures "load.$f.podman" "load$n"
  rec "load.$f.skopeo.raw" skopeo inspect --raw "docker-archive:$file"
  rec "load.$f.skopeo.config" skopeo inspect --config --raw "docker-archive:$file"
  rec "load.$f.ctr.import" ctr -a "$CSOCK" -n "load$n" images import --all-platforms "$file"
  ctr_figures "load.$f.ctr" "load$n"
done

# containerd lists no image for an archive without names unless asked for digest images
rec case3.ctr.import_digests ctr -a "$CSOCK" -n docker25-digests images import --digests \
  --all-platforms $W/tiny.docker25.docker-archive.tar
ctr_figures case3.ctr_digests docker25-digests

# ---- case 8: the two images of one archive ----------------------------------------------
for i in 0 1; do
  rec "case8.skopeo.at$i.raw" skopeo inspect --raw "docker-archive:$W/tiny-child.dockerd.save.tar:@$i"
  rec "case8.skopeo.at$i" skopeo inspect "docker-archive:$W/tiny-child.dockerd.save.tar:@$i"
done
rec case8.skopeo.noref skopeo inspect --raw "docker-archive:$W/tiny-child.dockerd.save.tar"
rec case8.skopeo.child_by_name skopeo inspect --raw \
  "docker-archive:$W/tiny-child.dockerd.save.tar:ocisize/tiny-child:latest"

# ---- case 4: artifacts next to images in one OCI layout ---------------------------------
A=$W/artifacts.oras.oci
sig=sha256-ba771aa8f8177c05832bd9394bf29e51f1c89fccca23e84d89ab0d8d840efc92.sig
rec case4.skopeo.noref skopeo inspect "oci:$A"
for t in tiny note 0.1.0 sig buildx; do
  ref=$t
  [ "$t" = sig ] && ref=$sig
  rec "case4.skopeo.$t.raw" skopeo inspect --raw "oci:$A:$ref"
  rec "case4.skopeo.$t" skopeo inspect "oci:$A:$ref"
  rec "case4.podman.$t.pull" P "a-$t" pull "oci:$A:$ref"
  podman_figures "case4.podman.$t" "a-$t"
done
rec case4.podman.noref.pull P art-noref pull "oci:$A"
(cd "$A" && tar -cf "$WORK/artifacts.tar" oci-layout index.json blobs)
rec case4.ctr.import ctr -a "$CSOCK" -n artifacts images import --all-platforms \
  --base-name docker.io/ocisize/artifacts "$WORK/artifacts.tar"
ctr_figures case4.ctr artifacts
rec case4.ctr.import_no_unpack ctr -a "$CSOCK" -n artifacts-nu images import --all-platforms \
  --no-unpack --base-name docker.io/ocisize/artifacts "$WORK/artifacts.tar"
ctr_figures case4.ctr_no_unpack artifacts-nu

# ---- case 5: a layout holding only the amd64 half of an index ---------------------------
M=$W/multi-amd64only.skopeo.oci
rm -rf "$M"
rec case5.copy skopeo copy --all "oci:$C/multi.podman.oci:latest" "oci:$M:latest"
# the arm64 manifest and the config only it uses (the layers are shared with amd64)
rm -f "$M/blobs/sha256/6741f00b19924dc94b0a732b4543e9ffc183efa03eeef9843820789876d5f7ac" \
  "$M/blobs/sha256/f215fcb8f5641414898e1ef92c4f43a06a1fad85767e9593967e8dc133f502a5"
rec case5.skopeo.raw skopeo inspect --raw "oci:$M:latest"
rec case5.skopeo skopeo inspect "oci:$M:latest"
rec case5.skopeo.arm64 skopeo --override-arch arm64 --override-variant v8 inspect "oci:$M:latest"
rec case5.podman.pull P partial pull "oci:$M:latest"
podman_figures case5.podman partial
rec case5.podman.pull_arm64 P partial-arm pull --arch arm64 --variant v8 "oci:$M:latest"
rec case5.skopeo.copy_all skopeo copy --all "oci:$M:latest" "oci:$WORK/copy-all:latest"

# ---- case 10: a Docker v2s2 manifest in an OCI layout -----------------------------------
V=$W/tiny.hand.oci-v2s2
rec case10.skopeo.raw skopeo inspect --raw "oci:$V:latest"
rec case10.skopeo skopeo inspect "oci:$V:latest"
rec case10.podman.pull P v2s2 pull "oci:$V:latest"
podman_figures case10.podman v2s2
# without a reference podman takes the only manifest, whatever its media type
rec case10.podman_load.load P v2s2-load load -i "$V"
podman_figures case10.podman_load v2s2-load
(cd "$V" && tar -cf "$WORK/v2s2.tar" oci-layout index.json blobs)
rec case10.ctr.import ctr -a "$CSOCK" -n v2s2 images import --all-platforms "$WORK/v2s2.tar"
ctr_figures case10.ctr v2s2
rec case10.ctr_export.skopeo skopeo inspect "oci-archive:$C/tiny.ctr.export-from-docker-archive.tar:latest"
rec case10.ctr_export.podman.pull P v2s2-ctr pull "oci-archive:$C/tiny.ctr.export-from-docker-archive.tar:latest"
podman_figures case10.ctr_export.podman v2s2-ctr
rec case10.ctr_export.podman_load.load P v2s2-ctr-load load -i $C/tiny.ctr.export-from-docker-archive.tar
podman_figures case10.ctr_export.podman_load v2s2-ctr-load

stop_containerd
python3 "$HERE/assemble.py" "$RUNS" >"$WORK/reference.json"
mv "$WORK/reference.json" "$HERE/reference.json"
echo "wrote $HERE/reference.json ($(wc -l <"$RUNS") runs)"
