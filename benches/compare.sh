#!/usr/bin/env bash
# Time ocisize against real peers on the same image, in interleaved rounds (hyperfine).
#
#   benches/compare.sh [--size MiB] [--runs N] [--keep] [--umoci-unpack] [--store-only]
#
# Builds an image of about SIZE MiB (default 1024) from this machine's own files with umoci
# (gzip layer) and skopeo (zstd layout, oci-archive, docker-archive), then times:
#   ocisize inspect            on each format
#   sha256sum + gzip -dc | sha256sum       (what people do by hand to check a gzip layer)
#   the same with pigz, and openssl dgst + pigz
#   igzip -dc (ISA-L, when installed: the fastest inflate Debian packages)
#   sha256sum / openssl + zstd -dc         (zstd layer)
#   openssl dgst -sha256                   (uncompressed layer: the hashing bound)
#   skopeo copy oci:... docker-archive:... (gunzips and hashes)
#   umoci unpack                           (only with --umoci-unpack: 20-40 s a run)
#   ocisize store import / re-import / fsck, against skopeo copy docker-archive: -> oci:,
#   skopeo copy oci-archive: -> oci:, cp + openssl dgst -sha256 of the same file, and
#   sha256sum of the store's blobs (--store-only: these alone)
# and prints medians, ratios and ocisize's peak RSS (/usr/bin/time -v).
# Peers that are not installed are skipped and reported; the script fails only when it is
# itself broken (CI runs it with --size 16 --runs 2).
set -euo pipefail

args_given=("$@")
size=1024
runs=5
keep=0
unpack=0
store_only=0
while [ $# -gt 0 ]; do
    case "$1" in
        --size) size=$2; shift 2 ;;
        --runs) runs=$2; shift 2 ;;
        --keep) keep=1; shift ;;
        --umoci-unpack) unpack=1; shift ;;
        --store-only) store_only=1; shift ;;
        *) echo "usage: $0 [--size MiB] [--runs N] [--keep] [--umoci-unpack] [--store-only]" >&2; exit 2 ;;
    esac
done

root=$(cd "$(dirname "$0")/.." && pwd)
work=${OCISIZE_BENCH_DIR:-$(mktemp -d /tmp/ocisize-bench.XXXXXX)}
mkdir -p "$work"
cleanup() { [ "$keep" = 1 ] || rm -rf "$work"; }
trap cleanup EXIT

have() { command -v "$1" >/dev/null 2>&1; }
for t in umoci skopeo hyperfine; do
    if ! have "$t"; then
        echo "compare.sh: $t is not installed (apt-get install umoci skopeo hyperfine); nothing to compare" >&2
        exit 0
    fi
done

# As root, skopeo keeps a blob-info cache under /var/lib/containers: run the whole script in
# a private mount namespace with a tmpfs there, so the machine's is not touched.
if [ "$(id -u)" = 0 ] && [ -z "${OCISIZE_BENCH_ISOLATED:-}" ] && have unshare; then
    exec env OCISIZE_BENCH_ISOLATED=1 unshare --mount --propagation private bash -c \
        'if [ -d /var/lib/containers ]; then mount -t tmpfs tmpfs /var/lib/containers || exit 1; fi; exec bash "$0" "$@"' \
        "$0" "${args_given[@]}"
fi

echo "== building ocisize (release)"
cargo build --release --quiet --manifest-path "$root/Cargo.toml" --bin ocisize --bin inflate_bound
ocisize="$root/target/release/ocisize"
bound="$root/target/release/inflate_bound"

echo "== collecting ~${size} MiB of this machine's files"
rootfs="$work/bundle/rootfs"
if [ ! -f "$work/img.docker.tar" ]; then
    rm -rf "$work/oci" "$work/bundle"
    umoci init --layout "$work/oci" >/dev/null
    umoci new --image "$work/oci:img" >/dev/null
    umoci unpack --image "$work/oci:img" "$work/bundle" >/dev/null
    # Regular files from /usr, in a stable order, until the budget is spent.
    python3 - "$size" "$rootfs" <<'EOF'
import os, shutil, sys
budget = int(sys.argv[1]) << 20
dst = sys.argv[2]
total = 0
for base in ("/usr/lib", "/usr/share", "/usr/bin", "/usr/libexec", "/opt", "/root/.rustup"):
    for dirpath, dirnames, filenames in os.walk(base):
        dirnames.sort()
        for f in sorted(filenames):
            p = os.path.join(dirpath, f)
            try:
                st = os.lstat(p)
            except OSError:
                continue
            if not os.path.isfile(p) or os.path.islink(p) or st.st_size == 0:
                continue
            t = os.path.join(dst, p.lstrip("/"))
            os.makedirs(os.path.dirname(t), exist_ok=True)
            try:
                shutil.copyfile(p, t)
            except OSError:
                continue
            total += st.st_size
            if total >= budget:
                print(f"{total} bytes in files")
                sys.exit(0)
print(f"{total} bytes in files (all that was found)")
EOF
    umoci repack --image "$work/oci:img" "$work/bundle" >/dev/null
    rm -rf "$work/bundle"
    skopeo copy --quiet "oci:$work/oci:img" "oci-archive:$work/img.oci.tar:img"
    skopeo copy --quiet --dest-compress-format zstd "oci:$work/oci:img" "oci:$work/oci-zstd:img"
    skopeo copy --quiet "oci:$work/oci:img" "docker-archive:$work/img.docker.tar:ocisize/bench:latest"
fi

if [ ! -f "$work/two.oci.tar" ]; then
    # The same files in two layers of half the bytes each: files in path order until half of
    # the bytes are in the first layer, the rest in a second one on top.
    rm -rf "$work/bundle2" "$work/full"
    umoci rm --image "$work/oci:two" 2>/dev/null || true
    umoci new --image "$work/oci:two" >/dev/null
    umoci unpack --image "$work/oci:two" "$work/bundle2" >/dev/null
    umoci unpack --image "$work/oci:img" "$work/full" >/dev/null
    (cd "$work/full/rootfs" && find . -type f -printf '%s\t%p\n' | sort -t "$(printf '\t')" -k2) \
        > "$work/files"
    awk -F '\t' -v out1="$work/files.1" -v out2="$work/files.2" '
        { size[NR] = $1; name[NR] = $2; total += $1 }
        END { for (i = 1; i <= NR; i++) { acc += size[i]; print name[i] > (acc <= total / 2 ? out1 : out2) } }
    ' "$work/files"
    tar -C "$work/full/rootfs" -cf - -T "$work/files.1" | tar -C "$work/bundle2/rootfs" -xf -
    umoci repack --image "$work/oci:two" "$work/bundle2" >/dev/null
    rm -rf "$work/bundle2"
    umoci unpack --image "$work/oci:two" "$work/bundle2" >/dev/null
    tar -C "$work/full/rootfs" -cf - -T "$work/files.2" | tar -C "$work/bundle2/rootfs" -xf -
    umoci repack --image "$work/oci:two" "$work/bundle2" >/dev/null
    rm -rf "$work/bundle2" "$work/full"
    skopeo copy --quiet "oci:$work/oci:two" "oci-archive:$work/two.oci.tar:two"
fi

layer_of() { # the largest blob of a layout
    ls -S "$1"/blobs/sha256/* | head -1
}
gz=$(layer_of "$work/oci")
zst=$(layer_of "$work/oci-zstd")
tarfile=$(tar -tvf "$work/img.docker.tar" | sort -k3 -n | tail -1 | awk '{print $6}')
tar -xf "$work/img.docker.tar" -C "$work" "$tarfile"
plain="$work/$tarfile"
printf '== layer: gzip %s bytes, zstd %s bytes, tar %s bytes\n' \
    "$(stat -c %s "$gz")" "$(stat -c %s "$zst")" "$(stat -c %s "$plain")"

cmds=()
names=()
add() { names+=("$1"); cmds+=("$2"); }
add "ocisize oci-archive (gzip)" "$ocisize inspect --no-progress $work/img.oci.tar"
add "ocisize oci layout (gzip)" "$ocisize inspect --no-progress oci:$work/oci:img"
add "ocisize 2-layer oci-archive (gzip)" "$ocisize inspect --no-progress $work/two.oci.tar"
add "ocisize 2-layer oci-archive, -j 1" "$ocisize inspect --no-progress -j 1 $work/two.oci.tar"
add "ocisize oci layout (zstd)" "$ocisize inspect --no-progress $work/oci-zstd"
add "ocisize docker-archive (tar)" "$ocisize inspect --no-progress $work/img.docker.tar"
add "ocisize docker-archive via stdin" "$ocisize inspect --no-progress - < $work/img.docker.tar"
add "inflate alone (gzip, 1 thread)" "$bound $gz 2>/dev/null"
add "inflate alone (zstd, 1 thread)" "$bound $zst 2>/dev/null"
have igzip && add "igzip -dc (ISA-L)" "igzip -dc < $gz > /dev/null"
add "sha256sum + gzip -dc | sha256sum" "sha256sum $gz && gzip -dc $gz | sha256sum"
have pigz && add "sha256sum + pigz -dc | sha256sum" "sha256sum $gz && pigz -dc $gz | sha256sum"
have pigz && add "openssl + pigz -dc | openssl" "openssl dgst -sha256 $gz && pigz -dc $gz | openssl dgst -sha256"
have zstd && add "sha256sum + zstd -dc | sha256sum" "sha256sum $zst && zstd -qdc $zst | sha256sum"
have zstd && add "openssl + zstd -dc | openssl" "openssl dgst -sha256 $zst && zstd -qdc $zst | openssl dgst -sha256"
add "openssl dgst -sha256 (tar layer)" "openssl dgst -sha256 $plain"
add "skopeo copy oci: -> docker-archive:" "rm -f $work/out.tar && skopeo copy --quiet oci:$work/oci:img docker-archive:$work/out.tar:x/y:z"
add "skopeo inspect oci:" "skopeo inspect oci:$work/oci:img"
[ "$unpack" = 1 ] && add "umoci unpack" "rm -rf $work/unpacked && umoci unpack --image $work/oci:img $work/unpacked"

# The store: an import writes every blob (a new store each run), a re-import of a present
# image only verifies, fsck re-hashes every blob. Peers: skopeo copy into an OCI layout (the
# same job: verify and store the blobs), and cp followed by openssl dgst of the same file
# (copy and hash every byte once, no verification of the layers inside).
# A verified gzip import cannot go below its two floors: inflating the layer (one stream, one
# core; igzip is the fastest inflate Debian has) and hashing its tar for the diffID (SHA-256
# is sequential, whatever the number of cores).
if [ "$store_only" = 1 ]; then
    cmds=(); names=()
    add "inflate alone (gzip, 1 thread)" "$bound $gz 2>/dev/null"
    have igzip && add "igzip -dc (ISA-L)" "igzip -dc < $gz > /dev/null"
    add "openssl dgst -sha256 (tar layer)" "openssl dgst -sha256 $plain"
fi
rm -rf "$work/store-full"
"$ocisize" store import --no-progress --store "$work/store-full" "$work/img.docker.tar" >/dev/null
"$ocisize" store import --no-progress --store "$work/store-full" --name x/oci "$work/img.oci.tar" >/dev/null
add "store import docker-archive (tar)" "rm -rf $work/store-d && $ocisize store import --no-progress --store $work/store-d $work/img.docker.tar"
add "skopeo copy docker-archive: -> oci:" "rm -rf $work/sk-d && skopeo copy --quiet docker-archive:$work/img.docker.tar oci:$work/sk-d:x"
add "cp + openssl dgst (docker-archive)" "rm -f $work/cp.tar && cp $work/img.docker.tar $work/cp.tar && openssl dgst -sha256 $work/cp.tar"
add "store import oci-archive (gzip)" "rm -rf $work/store-o && $ocisize store import --no-progress --store $work/store-o --name x/y $work/img.oci.tar"
add "skopeo copy oci-archive: -> oci:" "rm -rf $work/sk-o && skopeo copy --quiet oci-archive:$work/img.oci.tar oci:$work/sk-o:x"
add "cp + openssl dgst (oci-archive)" "rm -f $work/cp.tar && cp $work/img.oci.tar $work/cp.tar && openssl dgst -sha256 $work/cp.tar"
add "store re-import docker-archive (present)" "$ocisize store import --no-progress --store $work/store-full $work/img.docker.tar"
add "store re-import via stdin (present)" "$ocisize store import --no-progress --store $work/store-full - < $work/img.docker.tar"
add "store fsck" "$ocisize store fsck --store $work/store-full"
add "sha256sum of the store's blobs" "sha256sum $work/store-full/blobs/sha256/*"

args=()
for i in "${!cmds[@]}"; do args+=(--command-name "${names[$i]}" "${cmds[$i]}"); done
# Interleaved: each round runs every command once, in turn, so a noisy phase of the machine
# (another tenant, a frequency change) touches every command alike instead of one command's
# runs. A first round warms the page cache and is discarded.
echo "== timing (${runs} rounds of every command in turn, after a warm-up round; hot page cache)"
rm -f "$work"/times.*.json
for round in $(seq 0 "$runs"); do
    hyperfine --style none --runs 1 --export-json "$work/times.$round.json" "${args[@]}" \
        >/dev/null 2>&1
done
rm -f "$work/times.0.json"

echo "== peak RSS of ocisize"
if [ "$store_only" = 0 ]; then
for f in "$work/img.oci.tar" "$work/two.oci.tar" "$work/oci" "$work/oci-zstd" "$work/img.docker.tar"; do
    rss=$(/usr/bin/time -f %M "$ocisize" inspect --no-progress "$f" 2>&1 >/dev/null | tail -1)
    printf '  %-40s %6d KiB\n' "$(basename "$f")" "$rss"
done
fi
for f in "$work/img.docker.tar" "$work/img.oci.tar"; do
    rm -rf "$work/store-rss"
    rss=$(/usr/bin/time -f %M "$ocisize" store import --no-progress --store "$work/store-rss" --name x/y "$f" 2>&1 >/dev/null | tail -1)
    printf '  %-40s %6d KiB\n' "store import $(basename "$f")" "$rss"
done
rm -rf "$work/store-rss" "$work/store-d" "$work/store-o" "$work/sk-d" "$work/sk-o" "$work/cp.tar"

TAR_BYTES=$(stat -c %s "$plain") python3 - "$work"/times.*.json <<'EOF'
import json, os, statistics, sys
TAR_BYTES = int(os.environ["TAR_BYTES"])
times = {}
for path in sys.argv[1:]:
    for x in json.load(open(path))["results"]:
        times.setdefault(x["command"], []).extend(x["times"])
r = {name: {"median": statistics.median(t), "min": min(t), "max": max(t)}
     for name, t in times.items()}
print("== medians")
for name, x in r.items():
    print(f"  {name:<40} {x['median']:8.3f} s  (min {x['min']:.3f}, max {x['max']:.3f})")
def ratio(peer, ours):
    if peer in r and ours in r:
        print(f"  {peer:<40} / {ours:<32} = {r[peer]['median'] / r[ours]['median']:5.2f}x")
print("== ratios (peer median / ocisize median; > 1 means ocisize is faster)")
g = "ocisize oci-archive (gzip)"
for peer in ["sha256sum + gzip -dc | sha256sum", "sha256sum + pigz -dc | sha256sum",
             "openssl + pigz -dc | openssl", "skopeo copy oci: -> docker-archive:", "umoci unpack"]:
    ratio(peer, g)
z = "ocisize oci layout (zstd)"
for peer in ["sha256sum + zstd -dc | sha256sum", "openssl + zstd -dc | openssl"]:
    ratio(peer, z)
ratio("openssl dgst -sha256 (tar layer)", "ocisize docker-archive (tar)")
print("== layers in parallel (same bytes in one layer / in two layers)")
ratio("ocisize oci-archive (gzip)", "ocisize 2-layer oci-archive (gzip)")
ratio("ocisize 2-layer oci-archive, -j 1", "ocisize 2-layer oci-archive (gzip)")
print("== ocisize against the single-thread decompression bound (< 1.1 is the target)")
for ours, b in [(g, "inflate alone (gzip, 1 thread)"), (z, "inflate alone (zstd, 1 thread)")]:
    if ours in r and b in r:
        print(f"  {ours:<40} / {b:<32} = {r[ours]['median'] / r[b]['median']:5.2f}x")
print("== the store (peer median / ocisize median; > 1 means ocisize is faster)")
ratio("skopeo copy docker-archive: -> oci:", "store import docker-archive (tar)")
ratio("cp + openssl dgst (docker-archive)", "store import docker-archive (tar)")
ratio("skopeo copy oci-archive: -> oci:", "store import oci-archive (gzip)")
ratio("cp + openssl dgst (oci-archive)", "store import oci-archive (gzip)")
ratio("store import docker-archive (tar)", "store re-import docker-archive (present)")
ratio("sha256sum of the store's blobs", "store fsck")
print("== a verified gzip import against its floors (ocisize median / floor; 1 is the floor)")
o = "store import oci-archive (gzip)"
for b in ["inflate alone (gzip, 1 thread)", "igzip -dc (ISA-L)", "openssl dgst -sha256 (tar layer)"]:
    if o in r and b in r:
        print(f"  {o:<40} / {b:<32} = {r[o]['median'] / r[b]['median']:5.2f}x")
print("== throughput")
for name in ["ocisize docker-archive (tar)", "ocisize docker-archive via stdin"]:
    if name in r:
        print(f"  {name:<40} {TAR_BYTES / r[name]['median'] / 1e9:5.2f} GB/s of layer")
EOF
