#!/usr/bin/env bash
# Bundle the browser code of the call page: `npm ci` (only when package-lock.json changed since
# the last install), then esbuild bundles each entry module static/src/*.js (with the modules it
# imports from static/src/lib/ and node_modules, mediasoup-client among them) into static/build/.
# Idempotent and cheap when nothing changed: the bundle is rebuilt only when a source, the
# lockfile or this script is newer than it. Called by `make static` (part of `make setup`).
set -euo pipefail
cd "$(dirname "$0")/.."

command -v npm >/dev/null || { echo "build-static: npm is missing (Debian package npm)" >&2; exit 1; }

lock_sum=$(sha256sum package-lock.json | cut -d' ' -f1)
stamp=node_modules/.conference-npm-ci
if [[ ! -x node_modules/.bin/esbuild || ! -f $stamp || $(cat "$stamp") != "$lock_sum" ]]; then
  echo "build-static: npm ci" >&2
  npm ci --no-audit --no-fund --prefer-offline --loglevel=error >&2
  echo "$lock_sum" > "$stamp"
fi

out=static/build
marker=$out/.built
if [[ -f $marker ]] \
  && [[ -z $(find static/src package-lock.json "$0" -newer "$marker" -print -quit) ]]; then
  exit 0
fi

mkdir -p "$out"
entries=(static/src/*.js)
node_modules/.bin/esbuild "${entries[@]}" \
  --bundle --format=esm --target=chrome111,firefox120,safari16 --platform=browser \
  --minify --sourcemap --legal-comments=linked --log-level=warning \
  --define:process.env.NODE_ENV='"production"' \
  --outdir="$out"
touch "$marker"
echo "build-static: bundled ${entries[*]} into $out/" >&2
