# Shared helpers for make.sh: private daemons under $WORK, stopped by PID.
# Sourced inside `unshare --mount` (make.sh re-executes itself there), with tmpfs over
# /run, /var/lib/containers, /var/lib/docker and /etc/docker so nothing outside is touched.

DOCKER20=/usr/bin/docker         # Debian docker.io 20.10.24 client
DOCKER28=/usr/local/bin/docker   # docker CLI 28.2.2

start_dockerd() { # $1 = storage driver (vfs | overlay2), $2 = name; sets DSOCK, DDIR
  DDIR=$WORK/dockerd-$2   # a new name is a new, empty daemon
  mkdir -p "$DDIR"
  DSOCK=unix://$DDIR/sock
  dockerd --data-root "$DDIR/root" --exec-root "$DDIR/exec" --pidfile "$DDIR/dockerd.pid" \
    -H "$DSOCK" --storage-driver "$1" --bridge=none --iptables=false --ip-masq=false \
    --log-level warn >"$DDIR/log" 2>&1 &
  echo $! >"$DDIR/bg.pid"
  for _ in $(seq 1 100); do
    $DOCKER20 -H "$DSOCK" version >/dev/null 2>&1 && return 0
    sleep 0.2
  done
  cat "$DDIR/log" >&2
  return 1
}

stop_dockerd() {
  [ -f "$DDIR/bg.pid" ] || return 0
  local pid; pid=$(cat "$DDIR/bg.pid")
  kill "$pid" 2>/dev/null || true
  for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
  kill -9 "$pid" 2>/dev/null || true
  rm -f "$DDIR/bg.pid"
}

start_containerd() { # sets CSOCK, CDIR
  CDIR=$WORK/containerd
  mkdir -p "$CDIR"
  CSOCK=$CDIR/sock
  cat >"$CDIR/config.toml" <<CONF
version = 2
root = "$CDIR/root"
state = "$CDIR/state"
[grpc]
  address = "$CSOCK"
[ttrpc]
  address = "$CSOCK.ttrpc"
[debug]
  address = ""
[metrics]
  address = ""
CONF
  containerd --config "$CDIR/config.toml" --log-level warn >"$CDIR/log" 2>&1 &
  echo $! >"$CDIR/bg.pid"
  for _ in $(seq 1 100); do
    ctr -a "$CSOCK" version >/dev/null 2>&1 && return 0
    sleep 0.2
  done
  cat "$CDIR/log" >&2
  return 1
}

stop_containerd() {
  [ -f "$CDIR/bg.pid" ] || return 0
  local pid; pid=$(cat "$CDIR/bg.pid")
  kill "$pid" 2>/dev/null || true
  for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
  kill -9 "$pid" 2>/dev/null || true
  rm -f "$CDIR/bg.pid"
}
