#!/usr/bin/env bash
# The two things some tests need from the machine, not from npm: Debian's chromium (the docs browser test) and
# PostgreSQL (the stub on PostgreSQL). Installs whichever is missing (one apt-get update first, only then), then makes
# PostgreSQL ready (scripts/ensure-postgres.sh). Run by `npm test` before anything else and by .ci/run; safe to run
# any number of times, and quick when everything is there. Installing needs root; without it, it says what to run.
set -euo pipefail
cd "$(dirname "$0")/.."

PACKAGES="${SYSTEM_PACKAGES:-chromium postgresql}"

missing=()
for pkg in $PACKAGES; do
  dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
done
if [ "${#missing[@]}" -gt 0 ]; then
  if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    echo "system-deps: missing Debian packages: ${missing[*]}; install them (as root: apt-get install -y ${missing[*]})" >&2
    exit 1
  fi
  echo "system-deps: installing ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

bash scripts/ensure-postgres.sh
