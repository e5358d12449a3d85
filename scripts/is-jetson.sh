#!/usr/bin/env bash
# Exits 0 on an NVIDIA Jetson, 1 elsewhere, and prints the reason in one line.
#   scripts/is-jetson.sh [ROOT]      ROOT: a root prefix to look under (tests, image builds)
# SEGCAM_JETSON=1 or 0 overrides the detection: /etc/nv_tegra_release (L4T, JetPack's base) or
# /proc/device-tree/model naming an "NVIDIA Jetson".
set -euo pipefail

root="${1:-}"
root="${root%/}"
case "${SEGCAM_JETSON:-}" in
  1) echo "Jetson (SEGCAM_JETSON=1)"; exit 0 ;;
  0) echo "not a Jetson (SEGCAM_JETSON=0)"; exit 1 ;;
  "") ;;
  *) echo "SEGCAM_JETSON=$SEGCAM_JETSON: want 1 (a Jetson) or 0 (not one)" >&2; exit 2 ;;
esac
if [ -e "$root/etc/nv_tegra_release" ]; then
  echo "Jetson ($root/etc/nv_tegra_release)"
  exit 0
fi
# The device-tree string ends in a NUL byte: grep -a reads it as text.
if grep -a -q "NVIDIA Jetson" "$root/proc/device-tree/model" 2>/dev/null; then
  echo "Jetson ($(tr -d '\0' <"$root/proc/device-tree/model"))"
  exit 0
fi
echo "not a Jetson (no $root/etc/nv_tegra_release, no NVIDIA Jetson in $root/proc/device-tree/model)"
exit 1
