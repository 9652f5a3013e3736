#!/bin/bash
# Prepares this machine (as root) for the real-Krita tests; safe to run again.
#  1. Debian's Krita 5, PyQt5, Xvfb, and pyzmq/msgpack for Krita's Python (the system one).
#  2. A ready-made Krita HOME (Krita's first start builds a resource database for ~15 s),
#     copied by every test run.  Rebuilt when the Krita version changes.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
TEMPLATE=${RESTYLE_KRITA_HOME_TEMPLATE:-/var/cache/restyle/krita-home}
PACKAGES="krita python3-pyqt5 xvfb xauth python3-zmq python3-msgpack"

missing=""
for p in $PACKAGES; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
    if [ "$(id -u)" != 0 ]; then
        echo "tests/krita/setup.sh: missing packages:$missing; run this script as root" >&2
        exit 1
    fi
    echo "tests/krita/setup.sh: installing$missing"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends $PACKAGES >/dev/null
fi
/usr/bin/python3 -c "import zmq, msgpack, PyQt5.QtCore" \
    || { echo "tests/krita/setup.sh: the system Python cannot import zmq, msgpack and PyQt5" >&2; exit 1; }
/usr/bin/python3 "$HERE/kritarun.py" build-template "$TEMPLATE"
