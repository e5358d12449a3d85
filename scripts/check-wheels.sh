#!/usr/bin/env bash
# Checks that every requirement resolves to wheels on each platform the README lists, without
# installing anything: pip resolves the file for that CPU, glibc and Python (`pip install
# --dry-run --only-binary=:all: --platform ...`) under a real interpreter of that Python, since
# pip evaluates markers such as `python_version < "3.11"` against the Python it runs on.
# Fails naming every package that has no wheel there.
#
#   scripts/check-wheels.sh                          the targets below
#   scripts/check-wheels.sh FILE:ARCH:GLIBC:PYTHON   e.g. requirements.txt:aarch64:2.35:3.10
#
# Source-only packages (SDIST_ONLY) are built on the target, never fetched as wheels: for those
# the check is that the pinned release exists for that Python. Needs network access to the index
# and Python 3.10 and 3.12 interpreters (scripts/find-python.sh). PIP overrides the pip used.
set -euo pipefail
cd "$(dirname "$0")/.."

# PyGObject and pycairo publish no Linux wheels; on a Jetson the system's python3-gi serves.
SDIST_ONLY=(pygobject pycairo)
# glibc: Ubuntu 22.04 (JetPack 6) has 2.35, Ubuntu 24.04 (JetPack 7) 2.39.
DEFAULT_TARGETS=(
  requirements.txt:aarch64:2.35:3.10
  requirements.txt:aarch64:2.39:3.12
  requirements-jetson.txt:aarch64:2.35:3.10
  requirements-jetson.txt:aarch64:2.39:3.12
  requirements-dev.txt:x86_64:2.35:3.10
  requirements-dev.txt:x86_64:2.35:3.12
)
PIP="${PIP:-.venv/bin/pip}"

die() { echo "check-wheels: $*" >&2; exit 2; }
[ -x "$PIP" ] || die "$PIP not found: run make demo first, or set PIP=/path/to/pip (22.3 or newer)"

# pip does not expand manylinux tags for --platform: every tag a wheel may carry is listed.
platform_args() {
  local arch="$1" glibc_minor="${2#2.}" minor=5 args=()
  [ "$arch" = x86_64 ] && args+=(--platform manylinux1_x86_64 --platform manylinux2010_x86_64)
  [ "$arch" = aarch64 ] && minor=17
  args+=(--platform "manylinux2014_$arch")
  while [ "$minor" -le "$glibc_minor" ]; do
    args+=(--platform "manylinux_2_${minor}_$arch")
    minor=$((minor + 1))
  done
  echo "${args[@]}"
}

# The file with its -r includes inlined (paths relative to the including file).
flatten() {
  local file="$1" dir line
  [ -f "$file" ] || die "$file: no such requirements file"
  dir="$(dirname "$file")"
  while IFS= read -r line || [ -n "$line" ]; do
    case "$line" in
      "-r "*|"--requirement "*) flatten "$dir/${line#* }" ;;
      *) echo "$line" ;;
    esac
  done <"$file"
}

name_of() { sed -E 's/^[[:space:]]*([A-Za-z0-9._-]+).*/\1/' <<<"$1" | tr 'A-Z_.' 'a-z--'; }
is_sdist_only() {
  local name want
  name="$(name_of "$1")"
  for want in "${SDIST_ONLY[@]}"; do [ "$name" = "$want" ] && return 0; done
  return 1
}

missing=()   # "name (file, arch, Python)" for every requirement without a wheel
failed=0
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

check_target() {
  local file arch glibc version python tag log args reqs=() sdists=() line name pin count
  IFS=: read -r file arch glibc version <<<"$1"
  [[ -n "$version" && "$glibc" =~ ^2\.[0-9]+$ && "$arch" =~ ^(aarch64|x86_64)$ ]] \
    || die "$1: want FILE:ARCH:GLIBC:PYTHON, e.g. requirements.txt:aarch64:2.35:3.10"
  python="$(scripts/find-python.sh "$version")" || exit 2
  tag="$file on $arch (glibc $glibc), Python $version"
  read -r -a args <<<"$(platform_args "$arch" "$glibc")"
  args+=(--python-version "$version" --implementation cp --abi "cp${version/./}")

  while IFS= read -r line; do
    line="${line%%#*}"
    [[ "$line" =~ [^[:space:]] ]] || continue
    if is_sdist_only "$line"; then sdists+=("$line"); else reqs+=("$line"); fi
  done < <(flatten "$file" | awk '!seen[$0]++')  # two -r lines may include the same file
  printf '%s\n' "${reqs[@]}" >"$work/reqs.txt"

  log="$work/pip.log"
  if "$PIP" --python "$python" install --dry-run --ignore-installed --only-binary=:all: \
      "${args[@]}" --report "$work/report.json" -r "$work/reqs.txt" >"$log" 2>&1; then
    count="$("$python" -c "import json, sys; print(len(json.load(open(sys.argv[1]))['install']))" \
      "$work/report.json")"
    echo "ok: $tag: wheels for all $count packages"
  else
    failed=1
    if ! grep -q "No matching distribution found" "$log"; then
      echo "FAIL: $tag: pip failed:"
      grep -v '^WARNING: Location' "$log" | tail -5
    else
      # One requirement at a time names every one without a wheel; pip alone stops at the first.
      local found=0
      for line in "${reqs[@]}"; do
        if ! "$PIP" --python "$python" install --dry-run --ignore-installed --no-deps \
            --only-binary=:all: "${args[@]}" "$line" >"$work/one.log" 2>&1; then
          missing+=("$(sed -E 's/[[:space:]]*;.*//' <<<"$line") ($tag)")
          found=1
        fi
      done
      if [ "$found" -eq 0 ]; then  # every listed package has one: a dependency has not
        name="$(sed -n 's/.*No matching distribution found for \(.*\)/\1/p' "$log" | head -1)"
        missing+=("$name, a dependency ($tag)")
      fi
      echo "FAIL: $tag: packages without a wheel (below)"
    fi
  fi

  for line in "${sdists[@]}"; do
    line="${line%%;*}"
    name="$(name_of "$line")"
    pin="$(sed -n 's/.*==[[:space:]]*\([^[:space:]]*\).*/\1/p' <<<"$line")"
    [ -n "$pin" ] || die "$file: $line: a source-only package needs an exact pin (==)"
    if "$PIP" --python "$python" index versions "$name" --python-version "$version" 2>/dev/null \
        | grep -q -E "^Available versions:.* ${pin//./\\.}(,|$)"; then
      echo "ok: $tag: $name==$pin from source (built on the target; needs its -dev packages)"
    else
      failed=1
      missing+=("$name==$pin: no such release for Python $version ($tag)")
    fi
  done
}

targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=("${DEFAULT_TARGETS[@]}")
for target in "${targets[@]}"; do check_target "$target"; done

if [ "$failed" -ne 0 ]; then
  [ ${#missing[@]} -eq 0 ] || printf 'no wheel: %s\n' "${missing[@]}" >&2
  echo "check-wheels: FAILED" >&2
  exit 1
fi
echo "check-wheels: every requirement has a wheel (or a source release) on every target"
