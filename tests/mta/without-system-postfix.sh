#!/usr/bin/env bash
# Runs "$@" as if the system had no Postfix or Cyrus SASL package: how .ci/run was checked
# to need none (it runs from the unpacked copy in .cache/mta). Nothing on the machine changes:
# in a private mount namespace every directory holding one of their files is replaced by a
# view without them, and the postfix/postdrop accounts are left out of /etc/passwd and group.
# Usage (as root): unshare -m bash tests/mta/without-system-postfix.sh bash .ci/run
set -e
work=$(mktemp -d)
mount --make-rprivate /
hidden=$(dpkg -L postfix sasl2-bin libsasl2-modules libsasl2-modules-db | grep -v '^/usr/share' | sort -u)
dirs=$(for f in $hidden; do [ -f "$f" ] && [ ! -L "$f" ] && dirname "$f"; done | sort -u)
n=0
for dir in $dirs; do
  n=$((n+1)); orig=$work/orig$n; view=$work/view$n
  mkdir -p "$orig" "$view"; mount --bind "$dir" "$orig"
  for entry in "$orig"/* "$orig"/.[!.]*; do
    [ -e "$entry" ] || [ -L "$entry" ] || continue
    name=${entry##*/}
    grep -qxF "$dir/$name" <<<"$hidden" && [ ! -d "$entry" ] && continue
    ln -s "$entry" "$view/$name"
  done
  mount --bind "$view" "$dir"
done
grep -v '^postfix:' /etc/passwd > $work/passwd; mount --bind $work/passwd /etc/passwd
grep -vE '^(postfix|postdrop):' /etc/group > $work/group; mount --bind $work/group /etc/group
echo "without-system-postfix: postfix on PATH: $(command -v postfix || echo none);" \
    "/usr/lib/postfix/sbin: $(ls /usr/lib/postfix/sbin 2>/dev/null | wc -l) files;" \
    "account postfix: $(getent passwd postfix || echo none)"
"$@"
