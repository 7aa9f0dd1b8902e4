#!/usr/bin/env bash
# Unpacks Debian's Postfix and Cyrus SASL into a cache for the interop tests; installs nothing.
# `apt-get install postfix` would remove the machine's own MTA (Exim, ...: they all conflict),
# so the packages are only downloaded and extracted (dpkg-deb -x), with every library they
# need that the machine lacks; tests/mta/postfix.py runs them as a private instance with its
# own configuration, queue and loopback port. Idempotent; needs no root (running does).
# Usage: bash tests/mta/install.sh [CACHE_DIR]   (default: $SMTP_BACKEND_MTA_CACHE or .cache/mta)
set -euo pipefail
cd "$(dirname "$0")/../.."

cache="${1:-${SMTP_BACKEND_MTA_CACHE:-$PWD/.cache/mta}}"
packages=(postfix sasl2-bin libsasl2-modules libsasl2-modules-db)
stamp="$cache/unpacked"

if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "${packages[*]}" ] && [ -x "$cache/root/usr/sbin/postfix" ]; then
    echo "tests/mta/install.sh: ${packages[*]} already unpacked in $cache/root"
    exit 0
fi

# What the machine lacks of their run-time dependencies (libraries, mostly) comes along:
# the first of each set of alternatives, followed until everything is on the machine.
installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }
first_alternatives() {  # the packages PACKAGE depends on, one per set of alternatives
    apt-cache depends --important "$1" 2>/dev/null | awk '
        /^ *\|?(Pre)?Depends: [^<]/ { if (!skip) print $2 }
        /^ *\|?(Pre)?Depends: / { skip = ($1 ~ /^\|/) }'
}
wanted=()
queue=("${packages[@]}")
while [ "${#queue[@]}" -gt 0 ]; do
    package=${queue[0]}
    queue=("${queue[@]:1}")
    case " ${wanted[*]} " in *" $package "*) continue ;; esac
    if [[ " ${packages[*]} " == *" $package "* ]] || ! installed "$package"; then
        wanted+=("$package")
        mapfile -t -O "${#queue[@]}" queue < <(first_alternatives "$package")
    fi
done

rm -rf "$cache/debs" "$cache/root" "$stamp"
mkdir -p "$cache/debs" "$cache/root"
# Daemons that drop to an unprivileged user still read their files: keep the tree readable.
chmod 755 "$cache" "$cache/root"
# apt's download sandbox user cannot write into a private directory: download as ourselves.
(cd "$cache/debs" && apt-get download -qq -o APT::Sandbox::User="$(id -un)" \
    "${wanted[@]}")
for deb in "$cache"/debs/*.deb; do
    dpkg-deb -x "$deb" "$cache/root"
done
echo "${packages[*]}" >"$stamp"
echo "tests/mta/install.sh: unpacked $(ls "$cache/debs" | wc -l) package(s) into $cache/root" \
    "(nothing installed): $(printf '%s ' "${wanted[@]}" | tr -s ' ')"
