#!/usr/bin/env bash
# Prints the path of a Python X.Y interpreter: $PYTHON<X><Y> (e.g. PYTHON310), else pythonX.Y on
# PATH, else pyenv's newest X.Y.* build. Exits 2 with one line when there is none.
#   scripts/find-python.sh 3.10
set -euo pipefail

version="${1:-}"
[[ "$version" =~ ^3\.[0-9]+$ ]] || { echo "usage: $0 3.X" >&2; exit 2; }

works() { [ -x "$1" ] && "$1" -c "import sys; sys.exit(sys.version[:len('$version') + 1] != '$version.')" 2>/dev/null; }

override="PYTHON${version/./}"
if [ -n "${!override:-}" ]; then
  works "${!override}" || { echo "$override=${!override}: not a Python $version" >&2; exit 2; }
  "${!override}" -c "import sys; print(sys.executable)"
  exit 0
fi
# A pyenv shim on PATH only runs when that version is selected: try it, then pyenv's builds.
candidates=()
if found="$(command -v "python$version")"; then candidates+=("$found"); fi
pyenv_root="${PYENV_ROOT:-$HOME/.pyenv}"
while IFS= read -r dir; do
  candidates+=("$dir/bin/python$version")
done < <(find "$pyenv_root/versions" -maxdepth 1 -name "$version.*" 2>/dev/null | sort -V -r)
for python in "${candidates[@]}"; do
  # sys.executable: the real binary, not a shim that depends on the caller's pyenv setting.
  if works "$python"; then "$python" -c "import sys; print(sys.executable)"; exit 0; fi
done
echo "no Python $version here: install it (apt-get install python$version, or pyenv install" \
  "$version) or set $override=/path/to/python$version" >&2
exit 2
