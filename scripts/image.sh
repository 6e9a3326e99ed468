#!/usr/bin/env bash
# Builds the container image of Containerfile.local from a mock-server binary built on this
# machine, with podman and no base image to pull: FROM scratch with the binary (its debug info
# stripped when `strip` is there), exactly the shared libraries `ldd` lists and the loader, an
# /etc/passwd naming the non-root user, and the writable directory for the dev CA.
# The standard recipe, built from source on the official Rust image, is Containerfile
# (docs/container.md).
#
# Usage: scripts/image.sh [TAG]              default TAG: localhost/mock-server:local
# Environment:
#   MOCK_SERVER_BIN  the binary (default target/debug/mock-server; build it first)
#   PODMAN_OPTS      podman's global options (default --storage-driver vfs; empty: podman's own), e.g.
#                    "--root DIR --runroot DIR --storage-driver vfs" for a store of its own
# Prints the image id on the last line of standard output. Exit status 0 when built.
set -euo pipefail
cd "$(dirname "$0")/.."

tag=${1:-localhost/mock-server:local}
bin=${MOCK_SERVER_BIN:-target/debug/mock-server}
read -r -a podman_opts <<< "${PODMAN_OPTS---storage-driver vfs}"

command -v podman >/dev/null || { echo "image.sh: podman is not installed" >&2; exit 1; }
command -v ldd >/dev/null || { echo "image.sh: ldd is not installed" >&2; exit 1; }
[ -x "$bin" ] || { echo "image.sh: $bin is not an executable: build it (cargo build -p mock-server) or set MOCK_SERVER_BIN" >&2; exit 1; }

context=$(mktemp -d)
trap 'rm -rf "$context"' EXIT
rootfs=$context/rootfs
mkdir -p "$rootfs/usr/local/bin" "$rootfs/etc" "$rootfs/var/lib" "$context/home/certs"

cp "$bin" "$rootfs/usr/local/bin/mock-server"
if command -v strip >/dev/null; then
    strip --strip-debug "$rootfs/usr/local/bin/mock-server"
fi

# Each library at the path ldd resolved it to (so the loader finds it in its default search
# path), copied as a file even where that path is a symbolic link; the loader at the path the
# binary names. linux-vdso is the kernel's and has no file.
libraries=()
while read -r line; do
    case $line in
        *"=> not found"*) echo "image.sh: $bin needs a library ldd cannot find: $line" >&2; exit 1 ;;
        *"=> /"*) path=${line#*=> }; path=${path%% (*} ;;
        /*) path=${line%% (*} ;;
        *) continue ;;
    esac
    mkdir -p "$rootfs$(dirname "$path")"
    cp -L "$path" "$rootfs$path"
    libraries+=("$path")
done < <(ldd "$bin")

# The non-root user the image runs as (USER 10001:10001 in the Containerfiles).
printf 'root:x:0:0:root:/:/sbin/nologin\nmock:x:10001:10001:mock-server:/var/lib/mock-server:/sbin/nologin\n' > "$rootfs/etc/passwd"
printf 'root:x:0:\nmock:x:10001:\n' > "$rootfs/etc/group"

echo "image.sh: $bin ($(du -h "$rootfs/usr/local/bin/mock-server" | cut -f1)) with ${libraries[*]:-no library (static)}" >&2
podman "${podman_opts[@]}" build --quiet --layers=false --file Containerfile.local --tag "$tag" "$context"
