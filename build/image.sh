#!/usr/bin/env bash
# Builds promobot's container image with podman, FROM scratch, on this
# machine: no registry is needed.
#
#   build/image.sh [IMAGE]        (make image IMAGE=...; default localhost/promobot:dev)
#
# The static binary is built on the host (CGO_ENABLED=0, -trimpath, -s -w,
# time zones compiled in) and staged with the host's CA bundle, an
# /etc/passwd and /etc/group naming the non-root user 65532 (promobot) and
# an empty /var/lib/promobot owned by it; build/Containerfile copies them
# into the image. The image is the binary plus the CA bundle: the build
# fails when it is more than 2 MB larger than the two.
#
# Environment: VERSION (default: git describe), CONTAINERS_CONF (default:
# build/containers.conf), GO (default: go).
set -euo pipefail

image=${1:-${IMAGE:-localhost/promobot:dev}}
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export CONTAINERS_CONF=${CONTAINERS_CONF:-$root/build/containers.conf}
go=${GO:-go}
ca_bundle=/etc/ssl/certs/ca-certificates.crt
slack=$((2 * 1000 * 1000))

for tool in podman runc; do
	if ! command -v "$tool" >/dev/null && ! [ -x "/usr/sbin/$tool" ]; then
		echo "image: $tool is not installed: run make system-packages (installs podman and runc with apt)" >&2
		exit 1
	fi
done
if ! [ -r "$ca_bundle" ]; then
	echo "image: no CA bundle at $ca_bundle: install ca-certificates" >&2
	exit 1
fi
version=${VERSION:-$(git -C "$root" describe --always --dirty 2>/dev/null || echo dev)}

stage=$(mktemp -d "${TMPDIR:-/tmp}/promobot-image.XXXXXX")
trap 'rm -rf "$stage"' EXIT
rootfs=$stage/rootfs
mkdir -p "$rootfs/etc/ssl/certs" "$rootfs/var/lib" "$stage/data"
find "$stage" -type d -exec chmod 0755 {} +

start=$(date +%s.%N)
(cd "$root" && CGO_ENABLED=0 GOOS=linux "$go" build -trimpath -ldflags "-s -w -X main.version=$version" -o "$stage/promobot" ./cmd/promobot)
built=$(date +%s.%N)

install -m 0644 "$ca_bundle" "$rootfs/etc/ssl/certs/ca-certificates.crt"
printf 'root:x:0:0:root:/root:/sbin/nologin\npromobot:x:65532:65532:promobot:/var/lib/promobot:/sbin/nologin\n' >"$rootfs/etc/passwd"
printf 'root:x:0:\npromobot:x:65532:\n' >"$rootfs/etc/group"
chmod 0644 "$rootfs/etc/passwd" "$rootfs/etc/group"

# A rebuild under the same name leaves the previous image nameless; it is
# removed below so that repeated builds do not fill the disk.
previous=$(podman image inspect --format '{{.Id}}' "$image" 2>/dev/null || true)
# One layer, no intermediate images.
podman build --quiet --layers=false --pull=never -f "$root/build/Containerfile" -t "$image" "$stage" >/dev/null
finished=$(date +%s.%N)
current=$(podman image inspect --format '{{.Id}}' "$image")
if [ -n "$previous" ] && [ "$previous" != "$current" ]; then
	podman rmi "$previous" >/dev/null 2>&1 || echo "image: the previous $image ($previous) is still in use and was kept" >&2
fi

image_bytes=$(podman image inspect --format '{{.Size}}' "$image")
binary_bytes=$(stat -c %s "$stage/promobot")
ca_bytes=$(stat -c %s "$rootfs/etc/ssl/certs/ca-certificates.crt")
gzip_bytes=$(podman save --format docker-archive "$image" 2>/dev/null | gzip -c | wc -c)
mb() { awk -v b="$1" 'BEGIN { printf "%.1f MB", b / 1000000 }'; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f s", b - a }'; }

echo "image $image ($version): $(mb "$image_bytes") ($(mb "$gzip_bytes") gzipped)"
echo "  binary $(mb "$binary_bytes") (stripped: -trimpath -s -w) + CA bundle $(mb "$ca_bytes") + $(((image_bytes - binary_bytes - ca_bytes) / 1000)) kB of user database, directories and tar headers"
echo "  built in $(secs "$start" "$finished") (go build $(secs "$start" "$built"), podman build $(secs "$built" "$finished"))"
if [ "$image_bytes" -gt $((binary_bytes + ca_bytes + slack)) ]; then
	echo "image: $image is $(mb "$image_bytes"), more than the binary and the CA bundle ($(mb $((binary_bytes + ca_bytes)))) + $(mb $slack)" >&2
	exit 1
fi
