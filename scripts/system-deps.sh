#!/usr/bin/env bash
# Installs the Debian packages the project needs: `runtime` (venv, GStreamer, PyGObject build deps),
# `train` (runtime plus tcmalloc, faster CPU training: bench/train_step.py) or `test`
# (train plus Xvfb, ffmpeg, shellcheck, systemd tools, Chromium for the web tests). Installs only what is missing.
# On a Jetson (scripts/is-jetson.sh), `runtime` takes the system's PyGObject (python3-gi) instead
# of the compiler and -dev packages that building it needs; OpenCV is JetPack's own.
set -euo pipefail

runtime=(
  python3-venv python3-dev gcc pkg-config libgirepository1.0-dev libcairo2-dev
  gir1.2-gstreamer-1.0 gir1.2-gst-plugins-base-1.0 gstreamer1.0-tools
  gstreamer1.0-plugins-base gstreamer1.0-plugins-good gstreamer1.0-plugins-bad
  gstreamer1.0-plugins-ugly gstreamer1.0-libav gir1.2-gst-rtsp-server-1.0
)
jetson_runtime=(
  python3-venv python3-gi
  gir1.2-gstreamer-1.0 gir1.2-gst-plugins-base-1.0 gstreamer1.0-tools
  gstreamer1.0-plugins-base gstreamer1.0-plugins-good gstreamer1.0-plugins-bad
  gstreamer1.0-plugins-ugly gstreamer1.0-libav
)
train_only=(libtcmalloc-minimal4)
test_only=(xvfb x11-apps x11-utils xdotool openbox imagemagick ffmpeg shellcheck systemd chromium python3-opencv)

rc=0
"$(dirname "$0")/is-jetson.sh" "${SEGCAM_ROOT:-}" >/dev/null || rc=$?
[ "$rc" -le 1 ] || exit 2  # a bad SEGCAM_JETSON: is-jetson.sh said why
case "${1:-runtime}" in
  runtime) if [ "$rc" -eq 0 ]; then wanted=("${jetson_runtime[@]}"); else wanted=("${runtime[@]}"); fi ;;
  train) wanted=("${runtime[@]}" "${train_only[@]}") ;;
  test) wanted=("${runtime[@]}" "${train_only[@]}" "${test_only[@]}") ;;
  *) echo "usage: $0 [runtime|train|test]" >&2; exit 2 ;;
esac

missing=()
for package in "${wanted[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" \
    || missing+=("$package")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
  echo "missing Debian packages; run as root: apt-get install ${missing[*]}" >&2
  exit 1
fi
echo "installing Debian packages: ${missing[*]}"
echo "  apt-get update"
apt-get update -qq
# apt's own output is hundreds of lines: one progress line instead (updated in place at a
# terminal, every 25 packages otherwise), and apt's errors as they come.
DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends -o Dpkg::Use-Pty=0 \
  "${missing[@]}" | awk -v tty="$([ -t 1 ] && echo 1 || echo 0)" '
  /newly installed/ { total = $3 + $1; next }
  /^Get:/ { got++; if (tty) printf "\r  downloading: %d packages", got; fflush(); next }
  /^Setting up / {
    done++
    if (tty) printf "\r  setting up: %d of %s packages   ", done, (total ? total : "?")
    else if (done % 25 == 0) printf "  set up %d of %s packages\n", done, (total ? total : "?")
    fflush(); next }
  /^(E|W): / { print }
  END { if (tty) printf "\n"; printf "  done: %d packages set up\n", done }'
exit "${PIPESTATUS[0]}"
