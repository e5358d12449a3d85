#!/usr/bin/env bash
# Provisions, or reuses, the Debian 12 tree that the booted-container tests boot with
# systemd-nspawn (tests/systemd/test_unit.py, SEGCAM_NSPAWN_ROOT=<tree>): debootstrap, the runtime
# Debian packages of scripts/system-deps.sh, then a real systemd/install.sh inside (the user, the
# venv, pip install -r requirements.txt). Cached in one fixed place and rebuilt only when this
# script or system-deps.sh changed (the tree), or requirements.txt or install.sh (the venv).
#
# usage: scripts/provision-nspawn.sh      (as root; prints the tree's path on stdout, progress
#                                          on stderr)
# env:   SEGCAM_NSPAWN_CACHE  where the tree and the downloads are kept (/var/cache/segcam-test;
#                             not /var/cache/segcam, the service's own CacheDirectory=)
#        SEGCAM_DEBIAN_MIRROR a Debian mirror URL for debootstrap (default: debootstrap's own)
# exit:  0 ready; 77 this machine cannot do it (one line on stderr says why); else it failed.
set -euo pipefail
umask 022

SKIP=77
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SELF="$REPO/scripts/provision-nspawn.sh"
CACHE="${SEGCAM_NSPAWN_CACHE:-/var/cache/segcam-test}"
TREE="$CACHE/nspawn-bookworm"
STAMPS=var/lib/segcam-provision  # inside the tree: a rebuilt tree starts with none
LOG="$CACHE/provision.log"
SUITE=bookworm
# What debootstrap adds to minbase: a bootable systemd, what opencv-python's wheel links against,
# and CA certificates for pip. The GStreamer stack and the build deps come from system-deps.sh.
INCLUDE=systemd,systemd-sysv,dbus,python3,ca-certificates,libgl1,libglib2.0-0

say() { echo "provision-nspawn: $*" >&2; }
skip() { say "booted-container tests skipped: $*"; exit "$SKIP"; }
# A failure shows the end of the log: what apt, pip or debootstrap said last.
die() { tail -n 30 "$LOG" >&2; say "error: $* (log: $LOG)"; exit 1; }

# Runs "$@" with its output in the log, and says how long it took.
logged() {
  local started=$SECONDS
  echo "+ $*" >>"$LOG"
  "$@" >>"$LOG" 2>&1 || return 1
  say "  ... $((SECONDS - started)) s"
}

key() { cat "$@" | sha256sum | cut -d' ' -f1; }

nspawn() {
  # No machined or D-Bus on the host is needed: --register=no --keep-unit.
  systemd-nspawn -q --register=no --keep-unit --pipe "$@" </dev/null
}

need_tools() {
  if command -v debootstrap >/dev/null && command -v systemd-nspawn >/dev/null; then
    return 0
  fi
  command -v apt-get >/dev/null || skip "no debootstrap or systemd-nspawn, and no apt-get"
  say "installing debootstrap systemd-container"
  if ! { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
    --no-install-recommends debootstrap systemd-container; } >>"$LOG" 2>&1; then
    skip "no debootstrap or systemd-nspawn, and apt-get could not install them (see $LOG)"
  fi
}

build_tree() {
  local new="$TREE.new" mirror=()
  [ -z "${SEGCAM_DEBIAN_MIRROR:-}" ] || mirror=("$SEGCAM_DEBIAN_MIRROR")
  rm -rf -- "$new"
  mkdir -p "$CACHE/debs"
  say "debootstrap $SUITE into $new"
  if ! logged debootstrap --variant=minbase --include="$INCLUDE" --cache-dir="$CACHE/debs" \
    "$SUITE" "$new" "${mirror[@]}"; then
    rm -rf -- "$new"
    if grep -q "Failed getting release file" "$LOG"; then
      skip "cannot reach the Debian mirror (debootstrap could not fetch the $SUITE Release file)"
    fi
    die "debootstrap failed"
  fi
  nspawn -D "$new" /bin/true >>"$LOG" 2>&1 || {
    rm -rf -- "$new"
    skip "systemd-nspawn cannot start a container on this machine (see $LOG)"
  }
  # The journal in memory: the cached tree must not grow with every boot of the tests.
  mkdir -p "$new/etc/systemd/journald.conf.d"
  printf '[Journal]\nStorage=volatile\n' >"$new/etc/systemd/journald.conf.d/volatile.conf"
  printf 'Acquire::Retries "3";\n' >"$new/etc/apt/apt.conf.d/80retries"
  say "scripts/system-deps.sh runtime inside"
  logged nspawn -D "$new" --bind-ro="$REPO:/src" --bind="$CACHE/debs:/var/cache/apt/archives" \
    /bin/bash /src/scripts/system-deps.sh runtime || die "apt-get in the container failed"
  rm -rf -- "$TREE"
  mv -- "$new" "$TREE"
  mkdir -p "$TREE/$STAMPS"
}

install_venv() {
  local ca="${PIP_CERT:-${SSL_CERT_FILE:-}}" tls=()
  # Behind a TLS-inspecting proxy pip must trust the host's CA bundle.
  if [ -n "$ca" ] && [ -r "$ca" ]; then
    tls=(--bind-ro="$ca:/run/host-ca-certificates.crt"
      --setenv=PIP_CERT=/run/host-ca-certificates.crt)
  fi
  mkdir -p "$CACHE/pip"
  say "systemd/install.sh inside (user, venv, pip install -r requirements.txt)"
  logged nspawn -D "$TREE" --bind-ro="$REPO:/src" --bind="$CACHE/pip:/root/.cache/pip" \
    "${tls[@]}" /bin/bash /src/systemd/install.sh --source /src --no-start --headless \
    || die "install.sh in the container failed"
}

main() {
  local started=$SECONDS base_key venv_key
  [ "$(id -u)" -eq 0 ] || skip "needs root (debootstrap, systemd-nspawn)"
  mkdir -p "$CACHE" 2>/dev/null || skip "cannot create $CACHE"
  exec 9>"$CACHE/.lock"
  flock -w 3600 9 || { say "error: another provisioning holds $CACHE/.lock"; exit 1; }
  : >"$LOG"
  need_tools
  base_key="$(key "$SELF" "$REPO/scripts/system-deps.sh")"
  venv_key="$(echo "$base_key" | key - "$REPO/requirements.txt" "$REPO/systemd/install.sh")"
  if [ "$(cat "$TREE/$STAMPS/base" 2>/dev/null)" != "$base_key" ]; then
    build_tree
    echo "$base_key" >"$TREE/$STAMPS/base"
  else
    say "reusing $TREE"
  fi
  if [ "$(cat "$TREE/$STAMPS/venv" 2>/dev/null)" != "$venv_key" ] \
    || [ ! -x "$TREE/opt/segcam/venv/bin/python" ]; then
    install_venv
    echo "$venv_key" >"$TREE/$STAMPS/venv"
  else
    say "reusing its venv (requirements.txt and install.sh unchanged)"
  fi
  say "ready in $((SECONDS - started)) s: $TREE"
  echo "$TREE"
}

main "$@"
