#!/usr/bin/env bash
# Runs the runtime's tests (all but tests/training, which needs TensorFlow) under other Pythons
# than make test's, each in its own venv from requirements-test.txt (the runtime plus pytest).
#
#   scripts/test-pythons.sh            Python 3.10 and 3.12 (JetPack 6 and 7, Ubuntu 22.04/24.04)
#   scripts/test-pythons.sh 3.12 ...   these versions
#
# Each venv is cached in $SEGCAM_TEST_CACHE/py3.X (default /var/cache/segcam-test, or
# ~/.cache/segcam-test when that is not writable) and rebuilt only when the requirements, the
# interpreter or this script change. Interpreters: scripts/find-python.sh.
set -euo pipefail
cd "$(dirname "$0")/.."

versions=("$@")
[ ${#versions[@]} -gt 0 ] || versions=(3.10 3.12)

cache="${SEGCAM_TEST_CACHE:-/var/cache/segcam-test}"
if ! mkdir -p "$cache" 2>/dev/null || [ ! -w "$cache" ]; then
  cache="${XDG_CACHE_HOME:-$HOME/.cache}/segcam-test"
  mkdir -p "$cache"
fi

say() { echo "test-pythons: $*"; }

# The venv's key: what it is built from. Requirements files are followed through their -r lines.
venv_key() {
  local python="$1"
  {
    "$python" -VV
    cat "$0" requirements-test.txt requirements.txt
  } | sha256sum | cut -c1-16
}

failed=()
for version in "${versions[@]}"; do
  python="$(scripts/find-python.sh "$version")"
  venv="$cache/py$version"
  key="$(venv_key "$python")"
  start=$SECONDS
  if [ "$(cat "$venv/.segcam-key" 2>/dev/null)" = "$key" ]; then
    say "Python $version: reusing the venv $venv"
  else
    say "Python $version: building the venv $venv from requirements-test.txt" \
      "(pip builds PyGObject from source: a few minutes)"
    rm -rf "$venv"
    "$python" -m venv "$venv"
    "$venv/bin/python" -m pip install --disable-pip-version-check -q --upgrade pip
    "$venv/bin/python" -m pip install --disable-pip-version-check -q -r requirements-test.txt
    echo "$key" >"$venv/.segcam-key"
  fi
  built=$((SECONDS - start))
  say "Python $version: running the runtime's tests (tests/ but tests/training)"
  rc=0
  # Left out: the network check of the wheels (CI runs it once), and the CamVid score, which
  # runs `python -m training evaluate` (the training requirements).
  "$venv/bin/python" -m pytest -q -p no:cacheprovider tests --ignore=tests/training \
    --ignore=tests/platforms/test_check_wheels.py \
    --deselect tests/models/test_shipped_bundle.py::test_val_score_is_what_the_bundle_records_and_meets_the_goal \
    || rc=$?
  say "Python $version: venv ${built} s, tests $((SECONDS - start - built)) s, pytest exit $rc"
  [ "$rc" -eq 0 ] || failed+=("$version")
done

if [ ${#failed[@]} -gt 0 ]; then
  say "FAILED under Python ${failed[*]}"
  exit 1
fi
say "passed under Python ${versions[*]}"
