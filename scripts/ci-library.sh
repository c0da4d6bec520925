#!/usr/bin/env bash
# CI, first pass: the mediasoup-ctl library (packages/mediasoup-ctl) on its own, as a user gets
# it. Its wheel (built by pip's own `pip wheel`) goes into a fresh virtual environment with the
# pinned test tools and nothing of the application (no Django, no Channels); there
# `mediasoup-ctl-worker` finds or builds the worker in the shared cache and links its FBS
# bindings, the library's own tests run with its coverage, import-linter checks that it
# imports no application code and has no import cycle at run time, and mypy --strict (the
# checkout's sources, the stubs in packages/mediasoup-ctl/stubs) finds no error.
# Needs the Debian packages (make system) and the Node reference (make reference) for the
# golden-vector check. LIBRARY_CI_DIR keeps the environment (default: a temporary directory).
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3}"
PKG=packages/mediasoup-ctl
if [[ -n "${LIBRARY_CI_DIR:-}" ]]; then
  WORK="$LIBRARY_CI_DIR"
else
  WORK="$(mktemp -d)"
  trap 'rm -rf "$WORK"' EXIT
fi
V="$WORK/venv/bin"
pip_quiet=(--quiet --disable-pip-version-check)

rm -rf "$WORK/venv" "$WORK/dist" "$PKG/build"
"$PYTHON" -m venv "$WORK/venv"
"$V/pip" install "${pip_quiet[@]}" -r "$PKG/requirements-test.txt"
"$V/pip" wheel "${pip_quiet[@]}" --no-deps -w "$WORK/dist" "./$PKG"
rm -rf "$PKG/build"
"$V/pip" install "${pip_quiet[@]}" "$WORK"/dist/mediasoup_ctl-*.whl
if "$V/python" -c "import django" 2>/dev/null || "$V/python" -c "import channels" 2>/dev/null; then
  echo "ci-library: Django or Channels is installed beside the library" >&2
  exit 1
fi
"$V/mediasoup-ctl-worker" >/dev/null
cd "$PKG"
# The tests import the installed wheel (src/ is not on the path), not the checkout.
"$V/pytest" -p no:cacheprovider --cov=mediasoup_ctl --cov-report=term-missing:skip-covered \
  --cov-fail-under=90
"$V/lint-imports"
"$V/mypy" --strict
