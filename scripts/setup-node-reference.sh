#!/usr/bin/env bash
# Installs mediasoup 3.16.0's Node layer (the behavioural and performance reference) outside
# the repository, in ${CONFERENCE_CACHE:-~/.cache/conference}/node-reference, from
# bench/node/package.json and its lock file. Idempotent: does nothing when the installed copy
# matches them. The package's postinstall step (which builds or downloads a worker) is skipped:
# the reference runs the worker built by mediasoup-ctl-worker, via MEDIASOUP_WORKER_BIN.
# Prints the directory on its last line.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cache="${CONFERENCE_CACHE:-$HOME/.cache/conference}"
dest="$cache/node-reference"
src="$repo/bench/node"

command -v node >/dev/null || { echo "node is required (Node >= 20)" >&2; exit 1; }
command -v npm >/dev/null || { echo "npm is required" >&2; exit 1; }

stamp="$dest/.installed"
want="$(cat "$src/package.json" "$src/package-lock.json" 2>/dev/null | sha256sum | cut -d' ' -f1)"
if [[ -f "$stamp" && "$(cat "$stamp")" == "$want" && -f "$dest/node_modules/mediasoup/package.json" ]]; then
  echo "$dest"
  exit 0
fi

mkdir -p "$dest"
cp "$src/package.json" "$dest/package.json"
if [[ -f "$src/package-lock.json" ]]; then
  cp "$src/package-lock.json" "$dest/package-lock.json"
  (cd "$dest" && npm ci --ignore-scripts --no-audit --no-fund >&2)
else
  (cd "$dest" && npm install --ignore-scripts --no-audit --no-fund >&2)
fi
version="$(node -p "require('$dest/node_modules/mediasoup/package.json').version")"
[[ "$version" == "3.16.0" ]] || { echo "expected mediasoup 3.16.0, got $version" >&2; exit 1; }
echo "$want" > "$stamp"
echo "$dest"
