#!/usr/bin/env bash
# Installs Postfix and Cyrus SASL (sasldb) from Debian's packages for the interop tests.
# Idempotent; never leaves a system Postfix running: the tests start a private instance
# on 127.0.0.1 with its own configuration (tests/mta/postfix.py).
# Usage (as root): bash tests/mta/install.sh
set -euo pipefail

packages=(postfix sasl2-bin libsasl2-modules)

missing=()
for package in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" \
        || missing+=("$package")
done
if [ "${#missing[@]}" -eq 0 ]; then
    echo "tests/mta/install.sh: ${packages[*]} already installed"
    exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
    echo "tests/mta/install.sh: run as root to install ${missing[*]}" >&2
    exit 1
fi

export DEBIAN_FRONTEND=noninteractive
# "No configuration": Debian writes no main.cf and sets up no system mail on port 25.
echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections

# policy-rc.d exit 101 forbids maintainer scripts to start services during the install.
policy=/usr/sbin/policy-rc.d
own_policy=0
if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' >"$policy"
    chmod 755 "$policy"
    own_policy=1
fi
remove_policy() { if [ "$own_policy" -eq 1 ]; then rm -f "$policy"; fi; }
trap remove_policy EXIT

# Another apt-get (a developer, a parallel job) holds the lock for a while: wait for it.
apt_get=(apt-get -qq -o DPkg::Lock::Timeout=600)
"${apt_get[@]}" update
"${apt_get[@]}" install -y --no-install-recommends "${missing[@]}" >/dev/null

# Should a system instance have started anyway (no policy-rc.d honoured), stop it.
if [ -e /etc/postfix/main.cf ] && postfix status >/dev/null 2>&1; then
    postfix stop >/dev/null 2>&1 || true
fi
echo "tests/mta/install.sh: installed ${missing[*]}"
