#!/usr/bin/env bash
# Creates (or updates) the runtime's venv, as `make demo` does:
#   scripts/runtime-venv.sh [--dry-run] VENV
# Elsewhere: a plain venv and requirements.txt. On a Jetson (scripts/is-jetson.sh; SEGCAM_JETSON=1
# or 0 overrides, SEGCAM_ROOT is a root prefix for the detection): a venv with
# --system-site-packages and requirements-jetson.txt, so JetPack's OpenCV (with GStreamer) and the
# system's python3-gi serve and pip installs no OpenCV or PyGObject of its own.
# NVIDIA's onnxruntime GPU build for Jetson is not on PyPI; give it instead of PyPI's CPU build
# (any platform: its onnxruntime lines are left out of the requirements then):
#   ORT_WHEEL=/path/onnxruntime_gpu-*.whl   a wheel file (e.g. from NVIDIA's Jetson downloads)
#   ORT_INDEX=URL                           an index that has onnxruntime-gpu for this JetPack
# --dry-run prints the commands instead of running them.
set -euo pipefail

DRY_RUN=0
if [ "${1:-}" = "--dry-run" ]; then DRY_RUN=1; shift; fi
[ $# -eq 1 ] || { echo "usage: $0 [--dry-run] VENV" >&2; exit 2; }
absolute() { case "$1" in /*|"") echo "$1" ;; *) echo "$PWD/$1" ;; esac; }
VENV="$(absolute "$1")"
ORT_WHEEL="$(absolute "${ORT_WHEEL:-}")"
ORT_INDEX="${ORT_INDEX:-}"
cd "$(dirname "$0")/.."

die() { echo "runtime-venv: $*" >&2; exit 2; }
say() { echo "== $*"; }
run() {
  local cmd
  printf -v cmd '%q ' "$@"
  if [ "$DRY_RUN" -eq 1 ]; then echo "would run: ${cmd% }"; else echo "+ ${cmd% }"; "$@"; fi
}

[ -z "$ORT_WHEEL" ] || [ -z "$ORT_INDEX" ] || die "ORT_WHEEL and ORT_INDEX: give one of them"
if [ -n "$ORT_WHEEL" ]; then
  [ -f "$ORT_WHEEL" ] || die "ORT_WHEEL=$ORT_WHEEL: no such file"
  [[ "$ORT_WHEEL" == *.whl ]] || die "ORT_WHEEL=$ORT_WHEEL: not a wheel (.whl) file"
fi

rc=0
reason="$(scripts/is-jetson.sh "${SEGCAM_ROOT:-}")" || rc=$?
[ "$rc" -le 1 ] || exit 2  # a bad SEGCAM_JETSON: is-jetson.sh said why
flags=()
reqs=requirements.txt
site=false
if [ "$rc" -eq 0 ]; then
  flags=(--system-site-packages)
  reqs=requirements-jetson.txt
  site=true
  say "$reason: venv with --system-site-packages (JetPack's OpenCV with GStreamer, python3-gi)," \
    "pip installs $reqs (no OpenCV, no PyGObject)"
fi

# A venv made the other way is recreated: the flag cannot be changed in place.
if [ -x "$VENV/bin/python" ]; then
  have="$(sed -n 's/^include-system-site-packages *= *//p' "$VENV/pyvenv.cfg" 2>/dev/null || true)"
  if [ "$have" != "$site" ]; then
    say "$VENV has include-system-site-packages=$have, want $site: recreating it"
    run python3 -m venv --clear "${flags[@]}" "$VENV"
  fi
else
  run python3 -m venv "${flags[@]}" "$VENV"
fi

extra=()
# A rerun without ORT_WHEEL keeps the GPU build an earlier run installed.
keep_gpu=0
if [ -z "$ORT_WHEEL$ORT_INDEX" ] && [ -x "$VENV/bin/python" ] && "$VENV/bin/python" -c \
    "import importlib.metadata as m; m.version('onnxruntime-gpu')" 2>/dev/null; then
  keep_gpu=1
  say "onnxruntime: keeping the installed onnxruntime-gpu"
fi
if [ -n "$ORT_WHEEL$ORT_INDEX" ] || [ "$keep_gpu" -eq 1 ]; then
  # Both builds own the onnxruntime module: PyPI's CPU one must not be installed beside it.
  filtered="$VENV/requirements-ort.txt"
  if [ "$DRY_RUN" -eq 1 ]; then
    echo "would write $filtered: $reqs without onnxruntime"
  else
    grep -v -E '^onnxruntime([=<>~! ;]|$)' "$reqs" >"$filtered"
  fi
  reqs="$filtered"
  if [ -n "$ORT_WHEEL" ]; then extra=("$ORT_WHEEL"); fi
  if [ -n "$ORT_INDEX" ]; then extra=(--extra-index-url "$ORT_INDEX" onnxruntime-gpu); fi
  [ ${#extra[@]} -eq 0 ] \
    || say "onnxruntime: NVIDIA's GPU build (${ORT_WHEEL:-onnxruntime-gpu from $ORT_INDEX})"
elif [ "$site" = true ]; then
  say "onnxruntime: PyPI's CPU build; for the GPU give NVIDIA's wheel:" \
    "make demo ORT_WHEEL=/path/onnxruntime_gpu-*.whl (or ORT_INDEX=URL)"
fi

start=$SECONDS
say "pip: the runtime's Python packages from $reqs (2-4 min the first time; off a Jetson" \
  "PyGObject and pycairo are compiled)"
run "$VENV/bin/python" -m pip install --disable-pip-version-check -q --upgrade pip
# Not -q: pip's "Collecting ..." lines and download bars are the progress of a long step.
run "$VENV/bin/python" -m pip install --disable-pip-version-check -r "$reqs" "${extra[@]}"
# The `segcam` command (every verb): this checkout, editable, no dependencies.
# PYTHONWARNINGS: setuptools' "Editable installation" banner (a warning of the build backend,
# not of this install) would look like a fault to a newcomer.
PYTHONWARNINGS=ignore run "$VENV/bin/python" -m pip install --disable-pip-version-check -q \
  --no-deps -e "$(dirname "$0")/.."
if [ "$site" = true ] && [ "$DRY_RUN" -eq 0 ]; then
  "$VENV/bin/python" -c "import cv2" 2>/dev/null \
    || echo "warning: no OpenCV in the system's Python: install JetPack's (apt-get install nvidia-opencv)"
fi
[ "$DRY_RUN" -eq 1 ] || say "pip: done in $((SECONDS - start)) s"
