#!/usr/bin/env bash
# Builds the Debian trixie chroot that runs real GIMP 3 for the GIMP end-to-end tests.
#
# Debian 12 only ships GIMP 2.10, which cannot run Python 3 plug-ins, so the tests run
# GIMP 3 from trixie inside a debootstrap chroot. Building it takes minutes and ~1 GB and
# is the same every time, so it lives in a cache folder outside the repo and is rebuilt
# only when missing or incomplete (the stamp file is written last).
#
#   RESTYLE_GIMP_CHROOT   where the chroot lives (default /var/cache/restyle/gimp-trixie)
#   RESTYLE_GIMP_SUITE    Debian suite (default trixie, GIMP 3.0; a newer suite brings a newer GIMP 3)
#   RESTYLE_DEBIAN_MIRROR mirror for debootstrap (default: debootstrap's own default)
#
# Idempotent; needs root. Without root it says so and exits 0 unless CI=true, where a
# missing chroot is an error: CI must never skip the GIMP tests.
set -euo pipefail

SUITE="${RESTYLE_GIMP_SUITE:-trixie}"
ROOT="${RESTYLE_GIMP_CHROOT:-/var/cache/restyle/gimp-$SUITE}"
STAMP="$ROOT/.restyle-ready"
MARKER="$ROOT/.restyle-chroot"   # written first: only a folder carrying it is ever deleted
PACKAGES="gimp python3-gi gir1.2-gegl-0.4 python3-zmq python3-msgpack"
STAMP_CONTENT="$SUITE minbase: $PACKAGES"

# The dialog test drives GIMP's plug-in dialog on the host's X server (Xvfb, xdotool).
host_tools() {
    if ! command -v Xvfb >/dev/null || ! command -v xdotool >/dev/null; then
        apt-get update -q
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q xvfb xdotool
    fi
}

if [[ -f "$STAMP" && "$(cat "$STAMP")" == "$STAMP_CONTENT" ]]; then
    [[ -f "$MARKER" || ! -w "$ROOT" ]] || touch "$MARKER"
    [[ "$(id -u)" != 0 ]] || host_tools
    echo "gimp setup: chroot ready at $ROOT"
    exit 0
fi

if [[ "$(id -u)" != 0 ]]; then
    msg="gimp setup: building the GIMP 3 chroot at $ROOT needs root"
    if [[ "${CI:-}" == "true" ]]; then
        echo "$msg (CI=true: failing instead of skipping)" >&2
        exit 1
    fi
    echo "$msg; GIMP tests will be skipped" >&2
    exit 0
fi

host_tools
if ! command -v debootstrap >/dev/null; then
    apt-get update -q
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q debootstrap
fi

cleanup() {
    if mountpoint -q "$ROOT/proc" 2>/dev/null; then umount "$ROOT/proc" || umount -l "$ROOT/proc"; fi
}
trap cleanup EXIT

# An incomplete chroot (no stamp) may be half-bootstrapped: start over rather than trust it.
if [[ -e "$ROOT" ]]; then
    if [[ -f "$MARKER" ]]; then
        cleanup
        echo "gimp setup: removing incomplete chroot at $ROOT"
        rm -rf --one-file-system "$ROOT"
    elif [[ -n "$(ls -A "$ROOT")" ]]; then
        echo "gimp setup: $ROOT exists, is not empty and was not made by this script; refusing to touch it" >&2
        exit 1
    fi
fi
mkdir -p "$ROOT"
touch "$MARKER"

echo "gimp setup: debootstrap $SUITE into $ROOT (a few minutes)"
debootstrap --variant=minbase "$SUITE" "$ROOT" ${RESTYLE_DEBIAN_MIRROR:-}

mount -t proc proc "$ROOT/proc"
# Unstable suites' Release files expire within days; a machine whose clock runs ahead
# of the mirror would refuse them, and this chroot only runs tests.
APT="apt-get -q -o Acquire::Check-Valid-Until=false"
chroot "$ROOT" env DEBIAN_FRONTEND=noninteractive $APT update
chroot "$ROOT" env DEBIAN_FRONTEND=noninteractive $APT install -y --no-install-recommends $PACKAGES
chroot "$ROOT" apt-get clean
cleanup

compgen -G "$ROOT/usr/bin/gimp-console-3.*" >/dev/null || { echo "gimp setup: no gimp-console-3.x after install" >&2; exit 1; }
printf '%s' "$STAMP_CONTENT" > "$STAMP"
echo "gimp setup: chroot ready at $ROOT"
