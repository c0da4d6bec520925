#!/usr/bin/env bash
# Install the Debian packages the project needs (worker build, browser tests), or, when not
# root, print the exact apt-get line. Does nothing when everything is there already.
set -euo pipefail
PACKAGES=(build-essential pkg-config libssl-dev libuv1-dev libsrtp2-dev libusrsctp-dev libabsl-dev gettext iproute2 chromium ffmpeg)
missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# npm may come with a non-Debian nodejs package; Debian's npm is only needed when it is absent.
command -v npm >/dev/null 2>&1 || missing+=(npm)
((${#missing[@]})) || exit 0
if [[ $(id -u) -ne 0 ]]; then
  echo "system-deps: missing Debian packages; run as root:" >&2
  echo "  apt-get update && apt-get install -y ${missing[*]}" >&2
  exit 1
fi
echo "system-deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
