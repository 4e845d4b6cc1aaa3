#!/bin/bash
# The runtimes read what `ocisize store export` wrote. Run by real_tools.rs as
#   unshare --mount --propagation private real_tools.sh WORK EXPORTS DOCKER_ARCHIVE
# tmpfs goes over /run, /var/lib/containers, /var/lib/docker and /etc/docker; dockerd and
# containerd keep root, state and socket under WORK and are stopped by PID on exit.
# Prints one line per command: `KEY rc=N STDOUT... | STDERR...`.
set -u
W=$1; E=$2; ORIG=$3
for d in /run /var/lib/containers /var/lib/docker /etc/docker; do
  mkdir -p "$d" && mount -t tmpfs tmpfs "$d"
done
DPID=; CPID=
stop() {
  for p in $DPID $CPID; do kill "$p" 2>/dev/null; done
  for p in $DPID $CPID; do
    for _ in $(seq 1 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.2; done
    kill -9 "$p" 2>/dev/null
  done
}
trap stop EXIT
dockerd --data-root "$W/d/root" --exec-root "$W/d/exec" --pidfile "$W/d/pid" \
  -H "unix://$W/d.sock" --storage-driver vfs --bridge=none --iptables=false \
  --ip-masq=false --log-level warn >"$W/dockerd.log" 2>&1 &
DPID=$!
cat >"$W/containerd.toml" <<CONF
version = 2
root = "$W/c/root"
state = "$W/c/state"
disabled_plugins = ["io.containerd.grpc.v1.cri"]
[grpc]
  address = "$W/c.sock"
[ttrpc]
  address = "$W/c.sock.ttrpc"
CONF
containerd --config "$W/containerd.toml" --log-level warn >"$W/containerd.log" 2>&1 &
CPID=$!
D="/usr/bin/docker -H unix://$W/d.sock"
C="ctr -a $W/c.sock"
for _ in $(seq 1 150); do
  $D version >/dev/null 2>&1 && $C version >/dev/null 2>&1 && break
  sleep 0.2
done
P="podman --root $W/p/root --runroot $W/p/run --storage-driver vfs --cgroup-manager cgroupfs --events-backend none"
r() {
  local k=$1; shift
  local out rc
  out=$("$@" 2>"$W/err"); rc=$?
  echo "$k rc=$rc $(echo "$out" | tr '\n' ' ') | $(head -c 400 "$W/err" | tr '\n' ' ')"
}
r docker.load $D load -i "$E/docker.tar"
r docker.load.gzip $D load -i "$E/multi-docker.tar"
r docker.images $D images --no-trunc --format '{{.Repository}}:{{.Tag}} {{.ID}}'
r podman.load.docker-archive $P load -q -i "$E/docker.tar"
r podman.load.oci-archive $P load -q -i "$E/multi.tar"
# podman 4.3 names an image loaded from a layout directory after its path: a relative one.
r podman.load.oci-dir sh -c "cd $E && $P load -q -i multi-oci"
r podman.images $P images --no-trunc --format '{{.Repository}}:{{.Tag}} {{.ID}}'
r skopeo.copy.oci skopeo copy -q "oci:$E/multi-oci" "oci:$W/skopeo-copy:x"
r skopeo.copy.oci-archive skopeo copy -q "oci-archive:$E/multi.tar" "oci:$W/skopeo-copy:w"
r skopeo.copy.docker-archive skopeo copy -q "docker-archive:$E/docker.tar" "oci:$W/skopeo-copy:y"
r ctr.import.oci-archive $C images import "$E/multi.tar"
r ctr.import.docker-archive $C -n orig images import "$ORIG"
r ctr.ls $C images ls -q
r ctr.ls.digest $C images ls
r ctr.ls.orig $C -n orig images ls
