#!/usr/bin/env bash
# Installs segcam as a boot-time systemd service (see systemd/README.md).
#
#   sudo systemd/install.sh                      install or upgrade, enable and (re)start
#   sudo systemd/install.sh --display USER       ... and show the overlay on USER's X display :0
#   sudo systemd/install.sh --uninstall          remove it (recordings and an edited config stay)
#   systemd/install.sh --dry-run                 print every step, change nothing
#   systemd/install.sh --root DIR --no-venv      stage the files under DIR (image builds, tests)
#
# Idempotent: a second run leaves unchanged files alone, and never overwrites an edited
# /etc/segcam/app.yaml (a differing shipped one is written beside it as app.yaml.dist).
set -euo pipefail
umask 022

usage() {
  cat <<'EOF'
usage: install.sh [options]
  --root DIR                 install under DIR (prefix for /opt, /etc, /var/lib); no user is
                             created and no systemd manager is contacted
  --dry-run                  print each step, do nothing (no root needed)
  --uninstall                stop, disable and remove the service, the code and the venv;
                             keeps /var/lib/segcam (recordings) and an edited /etc/segcam/app.yaml
  --purge                    with --uninstall: also remove /etc/segcam, /var/lib/segcam, the user
  --display USER             run as USER and show the overlay on X display :0 (drop-in)
  --headless                 remove the display drop-in again
  --no-venv                  do not create the venv or pip install (tests, offline staging)
  --system-site-packages     venv sees the system's Python packages and pip installs
  --no-system-site-packages  requirements-jetson.txt (default on a Jetson: JetPack's OpenCV has
                             GStreamer, PyPI's has not; python3-gi is PyGObject without a build)
  --ort-wheel FILE           install this onnxruntime wheel instead of PyPI's CPU-only one, e.g.
                             NVIDIA's onnxruntime_gpu-*.whl for Jetson (CUDA, TensorRT)
  --ort-index URL            install onnxruntime-gpu from this extra index instead (NVIDIA's
                             Jetson index for your JetPack)
  --no-start                 enable the service but do not (re)start it now
  --jetson-clocks            Jetson: max clocks now and before every service start
  --nvpmodel N               Jetson: set power mode N (nvpmodel keeps it across reboots)
  --source DIR               project to install (default: the checkout holding this script)
  -h, --help
EOF
}

die() { echo "install.sh: $*" >&2; exit 1; }
usage_error() { echo "install.sh: $*" >&2; exit 2; }
note() { echo "install.sh: $*"; }

ROOT=""
DRY_RUN=0
ACTION=install
PURGE=0
DISPLAY_USER=""
HEADLESS=0
MAKE_VENV=1
SITE_PACKAGES=auto
ORT_WHEEL=""
ORT_INDEX=""
START=1
JETSON_CLOCKS=0
NVPMODEL=""
SOURCE="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

while [ $# -gt 0 ]; do
  case "$1" in
    --root) [ $# -ge 2 ] || die "--root needs a directory"; ROOT="$2"; shift ;;
    --root=*) ROOT="${1#*=}" ;;
    --dry-run|-n) DRY_RUN=1 ;;
    --uninstall) ACTION=uninstall ;;
    --purge) PURGE=1 ;;
    --display) [ $# -ge 2 ] || die "--display needs a user name"; DISPLAY_USER="$2"; shift ;;
    --display=*) DISPLAY_USER="${1#*=}" ;;
    --headless) HEADLESS=1 ;;
    --no-venv) MAKE_VENV=0 ;;
    --system-site-packages) SITE_PACKAGES=yes ;;
    --no-system-site-packages) SITE_PACKAGES=no ;;
    --ort-wheel) [ $# -ge 2 ] || usage_error "--ort-wheel needs a wheel file"; ORT_WHEEL="$2"; shift ;;
    --ort-wheel=*) ORT_WHEEL="${1#*=}" ;;
    --ort-index) [ $# -ge 2 ] || usage_error "--ort-index needs a URL"; ORT_INDEX="$2"; shift ;;
    --ort-index=*) ORT_INDEX="${1#*=}" ;;
    --no-start) START=0 ;;
    --jetson-clocks) JETSON_CLOCKS=1 ;;
    --nvpmodel) [ $# -ge 2 ] || die "--nvpmodel needs a mode number"; NVPMODEL="$2"; shift ;;
    --nvpmodel=*) NVPMODEL="${1#*=}" ;;
    --source) [ $# -ge 2 ] || die "--source needs a directory"; SOURCE="$2"; shift ;;
    --source=*) SOURCE="${1#*=}" ;;
    -h|--help) usage; exit 0 ;;
    *) usage >&2; die "unknown option: $1" ;;
  esac
  shift
done

if [ -n "$ROOT" ]; then
  case "$ROOT" in /*) ;; *) ROOT="$(pwd)/$ROOT" ;; esac
  ROOT="${ROOT%/}"
  [ "$ROOT" != "" ] || die "--root / : leave --root out to install on this system"
fi
[ -z "$DISPLAY_USER" ] || [ "$HEADLESS" -eq 0 ] || die "--display and --headless exclude each other"
[ -z "$ORT_WHEEL" ] || [ -z "$ORT_INDEX" ] || usage_error "--ort-wheel and --ort-index: give one"
if [ -n "$ORT_WHEEL" ]; then
  [ -f "$ORT_WHEEL" ] || usage_error "--ort-wheel $ORT_WHEEL: no such file"
  [[ "$ORT_WHEEL" == *.whl ]] || usage_error "--ort-wheel $ORT_WHEEL: not a wheel (.whl) file"
  case "$ORT_WHEEL" in /*) ;; *) ORT_WHEEL="$(pwd)/$ORT_WHEEL" ;; esac
fi
case "${SEGCAM_JETSON:-}" in
  ""|0|1) ;;
  *) usage_error "SEGCAM_JETSON=$SEGCAM_JETSON: want 1 (a Jetson) or 0 (not one)" ;;
esac
[ -z "$NVPMODEL" ] || [[ "$NVPMODEL" =~ ^[0-9]+$ ]] || die "--nvpmodel takes a mode number"
[ -z "$DISPLAY_USER" ] || [[ "$DISPLAY_USER" =~ ^[a-z_][a-z0-9_.-]*$ ]] \
  || die "--display $DISPLAY_USER: not a user name"
if [ "$DRY_RUN" -eq 0 ] && [ -z "$ROOT" ] && [ "$(id -u)" -ne 0 ]; then
  die "must run as root (or use --dry-run, or --root DIR to stage)"
fi

SERVICE=segcam.service
SVC_USER=segcam
OPT="$ROOT/opt/segcam"
APP_DIR="$OPT/app"
VENV="$OPT/venv"
ETC="$ROOT/etc/segcam"
STATE="$ROOT/var/lib/segcam"
UNIT_DIR="$ROOT/etc/systemd/system"
UNIT="$UNIT_DIR/$SERVICE"
DROPIN_DIR="$UNIT_DIR/$SERVICE.d"
# What the project copy holds: the app and everything it loads at run time. No training code.
PROJECT_ITEMS=(app models configs systemd requirements.txt requirements-jetson.txt pyproject.toml
  README.md LICENSE)

# --- helpers ----------------------------------------------------------------------------------
# run CMD...: print the step; execute it unless --dry-run.
run() {
  local cmd
  printf -v cmd '%q ' "$@"
  if [ "$DRY_RUN" -eq 1 ]; then
    echo "would run: ${cmd% }"
  else
    echo "+ ${cmd% }"
    "$@"
  fi
}

# write_file DEST MODE: stdin to DEST (atomically; left alone when already so), unless --dry-run.
write_file() {
  local dest="$1" mode="$2" tmp
  if [ "$DRY_RUN" -eq 1 ]; then
    echo "would write: $dest (mode $mode):"
    sed 's/^/    | /'
    return 0
  fi
  tmp="$(mktemp "$dest.XXXXXX")"
  cat >"$tmp"
  if cmp -s "$tmp" "$dest"; then
    rm -f "$tmp"
    note "$dest is up to date"
    return 0
  fi
  echo "+ write $dest"
  chmod "$mode" "$tmp"
  mv -f "$tmp" "$dest"
}

# install_file SRC DEST MODE: copy unless DEST already has the same content.
install_file() {
  if [ "$DRY_RUN" -eq 0 ] && cmp -s "$1" "$2"; then
    note "$2 is up to date"
  else
    run install -m "$3" "$1" "$2"
  fi
}

# remove PATH...: rm -rf the paths that exist.
remove() {
  local path
  for path in "$@"; do
    if [ -e "$path" ] || [ -L "$path" ]; then
      run rm -rf -- "$path"
    fi
  done
}

# The target system's account databases: the staging root's when it has them.
group_exists() {
  if [ -n "$ROOT" ]; then
    [ -f "$ROOT/etc/group" ] && grep -q "^$1:" "$ROOT/etc/group"
  else
    getent group "$1" >/dev/null
  fi
}
# A staging root without /etc/passwd (a bare tree) falls back to this machine's databases.
user_line() {
  if [ -n "$ROOT" ] && [ -f "$ROOT/etc/passwd" ]; then
    grep "^$1:" "$ROOT/etc/passwd" || true
  else
    getent passwd "$1" || true
  fi
}
group_name() {  # GID -> name
  if [ -n "$ROOT" ] && [ -f "$ROOT/etc/group" ]; then
    awk -F: -v gid="$1" '$3 == gid { print $1; exit }' "$ROOT/etc/group"
  else
    getent group "$1" | cut -d: -f1 || true
  fi
}

# SEGCAM_JETSON=1/0 overrides; else L4T's release file or the device tree (as scripts/is-jetson.sh).
is_jetson() {
  case "${SEGCAM_JETSON:-}" in 1) return 0 ;; 0) return 1 ;; esac
  [ -e "$ROOT/etc/nv_tegra_release" ] \
    || grep -a -q "NVIDIA Jetson" "$ROOT/proc/device-tree/model" 2>/dev/null
}
systemd_running() { [ -z "$ROOT" ] && [ -d /run/systemd/system ]; }

# --- install steps ----------------------------------------------------------------------------
create_user() {
  if [ -n "$ROOT" ]; then
    note "skip: no user is created under --root; on the target: useradd --system" \
      "--no-create-home --home-dir /var/lib/segcam --shell /usr/sbin/nologin --user-group $SVC_USER"
    return 0
  fi
  if [ -n "$(user_line "$SVC_USER")" ]; then
    note "user $SVC_USER exists"
  else
    run useradd --system --no-create-home --home-dir /var/lib/segcam \
      --shell /usr/sbin/nologin --user-group --comment "segcam service" "$SVC_USER"
  fi
  # video: cameras and (JetPack) the GPU nodes; render: /dev/dri/renderD*; jtop: /run/jtop.sock.
  local group
  for group in video render jtop; do
    if group_exists "$group"; then
      if [ "$DRY_RUN" -eq 1 ] || ! id -nG "$SVC_USER" 2>/dev/null | tr ' ' '\n' | grep -qx "$group"; then
        run usermod -a -G "$group" "$SVC_USER"
      fi
    fi
  done
}

create_dirs() {
  local dir
  for dir in "$OPT" "$ETC" "$UNIT_DIR"; do
    [ -d "$dir" ] || run mkdir -p "$dir"
  done
  # systemd creates and chowns /var/lib/segcam (StateDirectory=) at start; made here too so the
  # recordings folder exists for a first look, and for staged images.
  [ -d "$STATE/recordings" ] || run mkdir -p -m 0750 "$STATE" "$STATE/recordings"
  if [ -z "$ROOT" ]; then
    if [ "$DRY_RUN" -eq 1 ] || [ -n "$(user_line "$SVC_USER")" ]; then
      run chown "$SVC_USER:$SVC_USER" "$STATE" "$STATE/recordings"
    fi
  fi
}

copy_project() {
  local item new="$APP_DIR.new" old="$APP_DIR.old"
  [ -d "$SOURCE/app" ] || die "no app/ in $SOURCE (use --source DIR)"
  remove "$new" "$old"
  run mkdir -p "$new"
  for item in "${PROJECT_ITEMS[@]}"; do
    if [ -e "$SOURCE/$item" ]; then run cp -a -- "$SOURCE/$item" "$new/"; fi
  done
  if [ "$DRY_RUN" -eq 0 ]; then
    find "$new" \( -name __pycache__ -o -name '*.pyc' -o -name .pytest_cache \) -prune \
      -exec rm -rf {} +
    chown -R 0:0 "$new" 2>/dev/null || true  # code stays root's: the service cannot change it
  fi
  if [ "$DRY_RUN" -eq 0 ] && [ -d "$APP_DIR" ] && diff -r -q -x __pycache__ "$new" "$APP_DIR" >/dev/null 2>&1; then
    note "$APP_DIR is up to date"
    remove "$new"
    return 0
  fi
  # Swap in one move, so a running service never sees half a copy.
  if [ -e "$APP_DIR" ]; then run mv -- "$APP_DIR" "$old"; fi
  run mv -- "$new" "$APP_DIR"
  remove "$old"
}

want_site_packages() {
  case "$SITE_PACKAGES" in
    yes) return 0 ;;
    no) return 1 ;;
    *) is_jetson ;;
  esac
}

make_venv() {
  local python="$VENV/bin/python" reqs="$SOURCE/requirements.txt" flags=() want have extra=()
  if [ "$MAKE_VENV" -eq 0 ]; then
    note "skip: venv and pip install (--no-venv)"
    return 0
  fi
  command -v python3 >/dev/null || die "python3 not found (apt-get install python3 python3-venv)"
  want=false
  if want_site_packages; then want=true; flags+=(--system-site-packages); fi
  if [ -x "$python" ]; then
    have="$(sed -n 's/^include-system-site-packages *= *//p' "$VENV/pyvenv.cfg" 2>/dev/null || true)"
    if [ "$have" != "$want" ]; then
      note "venv has include-system-site-packages=$have, want $want: recreating it"
      run python3 -m venv --clear "${flags[@]}" "$VENV"
    fi
  else
    run python3 -m venv "${flags[@]}" "$VENV"
  fi
  if [ "$want" = true ]; then
    # JetPack's OpenCV (with GStreamer) and python3-gi serve; pip installs no OpenCV or PyGObject
    # of its own, and numpy 1 (JetPack's cv2 is built against numpy 1).
    reqs="$SOURCE/requirements-jetson.txt"
    [ -f "$reqs" ] || die "no requirements-jetson.txt in $SOURCE"
    note "system site packages: the system's OpenCV and PyGObject, pip installs requirements-jetson.txt"
  fi
  # An upgrade without --ort-wheel keeps the GPU build an earlier run installed.
  local keep_gpu=0
  if [ -z "$ORT_WHEEL$ORT_INDEX" ] && [ -x "$python" ] && "$python" -c \
      "import importlib.metadata as m; m.version('onnxruntime-gpu')" 2>/dev/null; then
    keep_gpu=1
    note "onnxruntime: keeping the installed onnxruntime-gpu"
  fi
  if [ -n "$ORT_WHEEL$ORT_INDEX" ] || [ "$keep_gpu" -eq 1 ]; then
    # Both builds own the onnxruntime module: PyPI's CPU one must not be installed beside it.
    grep -v -E '^onnxruntime([=<>~! ;]|$)' "$reqs" | write_file "$OPT/requirements.txt" 0644
    reqs="$OPT/requirements.txt"
    if [ -n "$ORT_WHEEL" ]; then extra=("$ORT_WHEEL"); fi
    if [ -n "$ORT_INDEX" ]; then extra=(--extra-index-url "$ORT_INDEX" onnxruntime-gpu); fi
    [ ${#extra[@]} -eq 0 ] \
      || note "onnxruntime: ${ORT_WHEEL:-onnxruntime-gpu from $ORT_INDEX}, not PyPI's CPU build"
  else
    remove "$OPT/requirements.txt" "$OPT/requirements-jetson.txt"  # an earlier run's
  fi
  if [ -z "$ORT_WHEEL$ORT_INDEX" ] && [ "$keep_gpu" -eq 0 ] && is_jetson; then
    note "hint: PyPI's onnxruntime runs on the CPU only; for CUDA/TensorRT give NVIDIA's Jetson" \
      "wheel: --ort-wheel /path/onnxruntime_gpu-*.whl (or --ort-index URL)"
  fi
  note "pip: the runtime's Python packages (2-4 min the first time)"
  run "$python" -m pip install --disable-pip-version-check -q --upgrade pip
  run "$python" -m pip install --disable-pip-version-check -q -r "$reqs" "${extra[@]}"
  # /opt is read-only to the service (ProtectSystem=strict): compile the bytecode now.
  local dir
  for dir in "$APP_DIR/app" "$APP_DIR/models"; do
    if [ -d "$dir" ] || [ "$DRY_RUN" -eq 1 ]; then run "$python" -m compileall -q "$dir"; fi
  done
}

install_config() {
  local shipped="$SOURCE/configs/service.yaml" dest="$ETC/app.yaml"
  if [ ! -f "$shipped" ]; then
    note "warning: $shipped is missing: $dest not installed (the service will not start)"
    return 0
  fi
  if [ ! -e "$dest" ]; then
    run install -m 0644 "$shipped" "$dest"
  elif cmp -s "$shipped" "$dest"; then
    note "$dest is up to date"
    remove "$dest.dist"
  else
    note "$dest was edited: kept; the shipped config is written beside it as app.yaml.dist" \
      "(compare: diff -u $dest $dest.dist)"
    install_file "$shipped" "$dest.dist" 0644
  fi
}

# Drop-in: SupplementaryGroups= may only name groups that exist (else the start fails, 216/GROUP).
groups_dropin() {
  local dest="$DROPIN_DIR/10-groups.conf" have=() group
  if [ -n "$ROOT" ] && [ ! -f "$ROOT/etc/group" ]; then
    note "skip: $ROOT/etc/group absent, cannot check the groups video and render"
    return 0
  fi
  for group in video render; do
    if group_exists "$group"; then have+=("$group"); fi
  done
  if [ ${#have[@]} -eq 2 ]; then
    remove "$dest"
    return 0
  fi
  note "group(s) missing on this system: only '${have[*]}' in SupplementaryGroups="
  [ -d "$DROPIN_DIR" ] || run mkdir -p "$DROPIN_DIR"
  write_file "$dest" 0644 <<EOF
# Written by install.sh: this system lacks some of the groups segcam.service names.
[Service]
SupplementaryGroups=
SupplementaryGroups=${have[*]}
EOF
}

# Drop-in: on a Jetson, allow the exact GPU/codec/camera nodes found here (the unit's
# char-* globs guess the kernel's device-group names; these paths are certain).
jetson_devices_dropin() {
  local dest="$DROPIN_DIR/20-jetson-devices.conf" nodes=() node
  if ! is_jetson || [ -n "$ROOT" ]; then
    return 0  # under --root, this machine's /dev says nothing about the target's
  fi
  for node in /dev/nvhost-* /dev/nvmap /dev/nvgpu/*/* /dev/nvidia* /dev/dri/* /dev/v4l2-nv*; do
    if [ -c "$node" ]; then nodes+=("$node"); fi
  done
  [ ${#nodes[@]} -gt 0 ] || return 0
  [ -d "$DROPIN_DIR" ] || run mkdir -p "$DROPIN_DIR"
  {
    echo "# Written by install.sh: the Jetson device nodes found at install time."
    echo "[Service]"
    for node in "${nodes[@]}"; do echo "DeviceAllow=$node rw"; done
  } | write_file "$dest" 0644
}

jetson_clocks_dropin() {
  local dest="$DROPIN_DIR/30-jetson-clocks.conf"
  [ "$JETSON_CLOCKS" -eq 1 ] || return 0
  is_jetson || { note "skip: --jetson-clocks on a machine that is not a Jetson"; return 0; }
  [ -d "$DROPIN_DIR" ] || run mkdir -p "$DROPIN_DIR"
  # jetson_clocks does not survive a reboot: "+" runs it with full privileges before each start.
  write_file "$dest" 0644 <<'EOF'
# Written by install.sh --jetson-clocks: maximum clocks before every start of the service.
[Service]
ExecStartPre=+-/usr/bin/jetson_clocks
EOF
}

display_dropin() {
  local dest="$DROPIN_DIR/50-display.conf" line gid group
  if [ "$HEADLESS" -eq 1 ]; then
    remove "$dest"
    return 0
  fi
  [ -n "$DISPLAY_USER" ] || return 0
  line="$(user_line "$DISPLAY_USER")"
  [ -n "$line" ] || die "--display $DISPLAY_USER: no such user on the target system"
  gid="$(echo "$line" | cut -d: -f4)"
  group="$(group_name "$gid")"
  [ -n "$group" ] || group="$gid"
  [ -d "$DROPIN_DIR" ] || run mkdir -p "$DROPIN_DIR"
  sed -e "s/@USER@/$DISPLAY_USER/g" -e "s/@GROUP@/$group/g" "$SOURCE/systemd/segcam-display.conf" \
    | write_file "$dest" 0644
}

install_unit() {
  install_file "$SOURCE/systemd/$SERVICE" "$UNIT" 0644
  groups_dropin
  jetson_devices_dropin
  jetson_clocks_dropin
  display_dropin
}

# systemd-analyze verify needs ExecStart='s binary: verify the installed files when the venv is
# there, with /opt/segcam pointed into the staging root under --root.
verify_unit() {
  local tmp
  if ! command -v systemd-analyze >/dev/null; then
    note "skip: systemd-analyze not found, unit not verified"
    return 0
  fi
  if [ ! -x "$VENV/bin/python" ] && [ "$DRY_RUN" -eq 0 ]; then
    note "skip: systemd-analyze verify (no venv at $VENV to run)"
    return 0
  fi
  if [ "$DRY_RUN" -eq 1 ]; then
    echo "would run: systemd-analyze verify $UNIT (with its drop-ins)"
    return 0
  fi
  tmp="$(mktemp -d)"
  sed "s#/opt/segcam/#$OPT/#g" "$UNIT" >"$tmp/$SERVICE"
  if [ -d "$DROPIN_DIR" ]; then
    mkdir "$tmp/$SERVICE.d"
    local f
    for f in "$DROPIN_DIR"/*.conf; do
      if [ -e "$f" ]; then sed "s#/opt/segcam/#$OPT/#g" "$f" >"$tmp/$SERVICE.d/${f##*/}"; fi
    done
  fi
  echo "+ systemd-analyze verify $UNIT"
  if ! systemd-analyze verify "$tmp/$SERVICE"; then
    rm -rf "$tmp"
    die "systemd-analyze verify failed for $UNIT"
  fi
  rm -rf "$tmp"
}

# The service validates its config itself at every start (exit 2, one line, no restart); checking
# here too tells the person installing, before the service is (re)started.
check_config() {
  [ -z "$ROOT" ] || return 0  # the config's paths name the target's files
  if [ ! -f "$ETC/app.yaml" ] || { [ ! -x "$VENV/bin/python" ] && [ "$DRY_RUN" -eq 0 ]; }; then
    return 0
  fi
  if [ "$DRY_RUN" -eq 1 ]; then
    echo "would run: (cd $APP_DIR && $VENV/bin/python -m app --config $ETC/app.yaml --check-config)"
    return 0
  fi
  echo "+ $VENV/bin/python -m app --config $ETC/app.yaml --check-config"
  if ! (cd "$APP_DIR" && "$VENV/bin/python" -m app --config "$ETC/app.yaml" --check-config); then
    note "warning: $ETC/app.yaml does not pass --check-config (above); the service will not" \
      "start until it does: edit it, then systemctl restart $SERVICE"
  fi
}

enable_service() {
  if [ -n "$ROOT" ]; then
    if command -v systemctl >/dev/null; then
      # Offline: only creates the multi-user.target.wants link in the staging root.
      run systemctl --root="$ROOT" --quiet enable "$SERVICE"
    fi
    note "staged under $ROOT; on the target: systemctl daemon-reload && systemctl restart $SERVICE"
    return 0
  fi
  if ! systemd_running; then
    note "systemd is not running here; on the target run:" \
      "systemctl daemon-reload && systemctl enable --now $SERVICE"
    return 0
  fi
  run systemctl daemon-reload
  run systemctl enable "$SERVICE"
  if [ "$START" -eq 1 ]; then
    # restart, not start: a reinstall must load the new code.
    run systemctl restart "$SERVICE"
    note "status: systemctl status $SERVICE; log: journalctl -u $SERVICE -f"
  fi
}

jetson_extras() {
  if ! is_jetson; then
    return 0
  fi
  if [ -n "$NVPMODEL" ]; then
    if [ -n "$ROOT" ]; then note "skip: nvpmodel under --root"; else run nvpmodel -m "$NVPMODEL"; fi
  fi
  if [ "$JETSON_CLOCKS" -eq 1 ] && [ -z "$ROOT" ]; then
    run jetson_clocks
  fi
  if [ ! -S /run/jtop.sock ]; then
    note "hint: for Jetson telemetry (jtop) in the HUD, install its service system-wide:" \
      "sudo pip3 install -U jetson-stats, then reboot (the app reads /run/jtop.sock;" \
      "the segcam user is added to group jtop when that group exists: rerun this installer)"
  fi
}

do_install() {
  [ -f "$SOURCE/systemd/$SERVICE" ] || die "no systemd/$SERVICE in $SOURCE"
  if [ -n "$NVPMODEL" ] || [ "$JETSON_CLOCKS" -eq 1 ]; then
    is_jetson || note "warning: not a Jetson (no /etc/nv_tegra_release): --nvpmodel/--jetson-clocks ignored"
  fi
  create_user
  create_dirs
  copy_project
  make_venv
  install_config
  install_unit
  verify_unit
  check_config
  jetson_extras
  enable_service
  if [ "$DRY_RUN" -eq 1 ]; then note "dry run: nothing was changed"; else note "done"; fi
}

# --- uninstall --------------------------------------------------------------------------------
do_uninstall() {
  if systemd_running; then
    run systemctl disable --now "$SERVICE" || true
  elif [ -n "$ROOT" ] && command -v systemctl >/dev/null && [ -e "$UNIT" ]; then
    run systemctl --root="$ROOT" --quiet disable "$SERVICE"
  fi
  remove "$UNIT" "$DROPIN_DIR" "$APP_DIR" "$APP_DIR.new" "$APP_DIR.old" "$VENV" \
    "$OPT/requirements.txt" "$OPT/requirements-jetson.txt"
  if [ -d "$OPT" ] && [ -z "$(ls -A "$OPT")" ]; then run rmdir "$OPT"; fi
  # The config: removed only while it is the shipped one; an edited one is the user's work.
  if [ -f "$ETC/app.yaml" ] && [ -f "$SOURCE/configs/service.yaml" ] \
    && cmp -s "$SOURCE/configs/service.yaml" "$ETC/app.yaml" && [ "$PURGE" -eq 0 ]; then
    remove "$ETC/app.yaml"
  fi
  remove "$ETC/app.yaml.dist"
  if [ "$PURGE" -eq 1 ]; then
    remove "$ETC" "$STATE" "$ROOT/var/cache/segcam" "$ROOT/var/log/segcam"
    if [ -z "$ROOT" ] && [ -n "$(user_line "$SVC_USER")" ]; then run userdel "$SVC_USER"; fi
  else
    if [ -d "$ETC" ] && [ -z "$(ls -A "$ETC")" ]; then run rmdir "$ETC"; fi
    if [ -d "$STATE" ]; then note "kept $STATE (recordings); --uninstall --purge removes it"; fi
    if [ -e "$ETC/app.yaml" ]; then
      note "kept the edited $ETC/app.yaml; --uninstall --purge removes it"
    fi
    if [ -z "$ROOT" ] && [ -n "$(user_line "$SVC_USER")" ]; then
      note "kept user $SVC_USER (owns the recordings); --uninstall --purge removes it"
    fi
  fi
  if systemd_running; then run systemctl daemon-reload; fi
  if [ "$DRY_RUN" -eq 1 ]; then note "dry run: nothing was changed"; else note "removed"; fi
}

if [ "$ACTION" = uninstall ]; then do_uninstall; else do_install; fi
