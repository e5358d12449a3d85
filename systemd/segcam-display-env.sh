#!/usr/bin/env bash
# ExecStartPre= of the display drop-in (segcam-display.conf). Waits a bounded time for the X
# display and the user's Xauthority, then writes DISPLAY=/XAUTHORITY= to display.env, which the
# unit reads with EnvironmentFile= before it starts the app. No display: an empty file, and the
# app runs headless (a DISPLAY that cannot be opened would make the GUI toolkit abort instead).
# Always exits 0: a missing monitor must not stop the camera and the recording.
#
# usage: segcam-display-env.sh [OUTPUT_FILE]   (default: $RUNTIME_DIRECTORY/display.env)
# env:   SEGCAM_DISPLAY (:0), SEGCAM_DISPLAY_WAIT (seconds, 30), SEGCAM_XAUTHORITY (a path to use
#        instead of searching), SEGCAM_X11_DIR (/tmp/.X11-unix; for tests)
set -euo pipefail

display="${SEGCAM_DISPLAY:-:0}"
wait_s="${SEGCAM_DISPLAY_WAIT:-30}"
x11_dir="${SEGCAM_X11_DIR:-/tmp/.X11-unix}"
out="${1:-${RUNTIME_DIRECTORY:-/run/segcam}/display.env}"

number="${display#*:}"
number="${number%%.*}"
socket="$x11_dir/X$number"
uid="$(id -u)"
home="$(getent passwd "$uid" | cut -d: -f6 || true)"

find_xauthority() {
  if [ -n "${SEGCAM_XAUTHORITY:-}" ]; then
    [ -r "$SEGCAM_XAUTHORITY" ] && echo "$SEGCAM_XAUTHORITY"
    return 0
  fi
  # GDM (JetPack's default) keeps it under /run/user; LightDM and startx in the home directory.
  local candidate
  for candidate in "/run/user/$uid/gdm/Xauthority" "${home:-/nonexistent}/.Xauthority"; do
    if [ -r "$candidate" ]; then
      echo "$candidate"
      return 0
    fi
  done
}

: >"$out"
xauthority=""
deadline=$((SECONDS + wait_s))
while :; do
  if [ -S "$socket" ]; then
    xauthority="$(find_xauthority)"
    [ -n "$xauthority" ] && break
  fi
  if [ "$SECONDS" -ge "$deadline" ]; then
    break
  fi
  sleep 1
done

if [ ! -S "$socket" ]; then
  echo "segcam: no X display $display ($socket) after ${wait_s}s: running headless"
elif [ -z "$xauthority" ]; then
  echo "segcam: X display $display is up but no Xauthority readable for $(id -un)" \
    "(nobody logged in? enable autologin): running headless"
else
  printf 'DISPLAY=%s\nXAUTHORITY=%s\n' "$display" "$xauthority" >"$out"
  echo "segcam: showing the overlay on $display (XAUTHORITY=$xauthority)"
fi
exit 0
