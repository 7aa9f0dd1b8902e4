#!/usr/bin/env bash
# Fetches the benchmark's real servers into benchmarks/.work (idempotent):
# Postfix's smtp-sink and Exim, extracted from their Debian packages rather than
# installed, so they never replace or start the machine's own MTA.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
work="$here/.work"
mkdir -p "$work"

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
updated=no
apt_update_once() {
    if [ "$updated" = no ]; then as_root apt-get update -qq; updated=yes; fi
}
installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }

# The shared libraries a package's binary links against: its lib* dependencies.
library_dependencies() {
    dpkg-deb -f "$1" Depends | tr ',' '\n' | sed -e 's/|.*//' -e 's/(.*)//' -e 's/ //g' \
        | grep '^lib' || true
}

# extract PACKAGE DEST: unpack PACKAGE's .deb into DEST and install its libraries.
extract() {
    local package="$1" dest="$2" deb
    if [ -f "$dest/.version" ]; then
        echo "$package: already in $dest ($(cat "$dest/.version"))"
        return
    fi
    rm -f "$work/${package}"_*.deb
    (cd "$work" && { apt-get download "$package" 2>/dev/null \
        || { apt_update_once && apt-get download "$package"; }; })
    deb="$(ls "$work/${package}"_*.deb)"
    local missing=()
    for library in $(library_dependencies "$deb"); do
        installed "$library" || missing+=("$library")
    done
    if [ "${#missing[@]}" -gt 0 ]; then
        apt_update_once
        as_root apt-get install -y --no-install-recommends "${missing[@]}"
    fi
    rm -rf "$dest"
    dpkg -x "$deb" "$dest"
    dpkg-deb -f "$deb" Version > "$dest/.version"
    rm -f "$deb"
    echo "$package: extracted into $dest ($(cat "$dest/.version"))"
}

extract postfix "$work/postfix"              # smtp-sink: PIPELINING, no CHUNKING
extract exim4-daemon-light "$work/exim"      # Exim 4.96: PIPELINING and CHUNKING

# The Exim binary looks its user up by name, even with its own configuration.
if ! getent passwd Debian-exim > /dev/null; then
    as_root useradd --system --user-group --no-create-home --home-dir /nonexistent \
        --shell /usr/sbin/nologin Debian-exim
fi

python3 - <<'PY'
import importlib.util
missing = [name for name in ("aiosmtplib", "django", "flask_mail") if not importlib.util.find_spec(name)]
if missing:
    print("python peers missing:", ", ".join(missing), "- install with: pip install -e '.[bench]'")
PY
echo "setup done"
