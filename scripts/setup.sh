#!/usr/bin/env bash
# Install everything visuomotor needs into ./.venv (idempotent):
#   - Mesa's EGL and OSMesa from Debian/Ubuntu packages, for headless MuJoCo rendering;
#   - torch==2.13.0 first when the venv has no torch (a CPU build; an unpinned torch would pull
#     GBs of CUDA wheels), then the package with its dependencies (and extras given as $1, e.g. test);
#   - with the test extra, Debian's headless Chromium (the report's HTML check).
set -euo pipefail
cd "$(dirname "$0")/.."
extras="${1:-}"

sudo=""; [ "$(id -u)" = 0 ] || sudo="sudo"
apt_install() {  # apt_install PACKAGE...: from the package lists, refreshed when they lack one
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "$@" >/dev/null 2>&1 || {
    $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "$@" >/dev/null; }
}
have_lib() { ldconfig -p 2>/dev/null | grep -q "$1"; }
if ! have_lib 'libEGL.so.1' || ! have_lib 'libOSMesa.so' || ! have_lib 'libGL.so.1'; then
  if command -v apt-get >/dev/null 2>&1; then
    echo "[setup] installing Mesa EGL/OSMesa (headless OpenGL for MuJoCo rendering)"
    apt_install libegl1 libegl-mesa0 libgl1 libgl1-mesa-dri libgles2 libosmesa6
  else
    echo "[setup] warning: no apt-get; install an EGL or OSMesa OpenGL yourself for rendering" >&2
  fi
fi
# the test suite renders `visuomotor report`'s index.html in Debian's headless Chromium
if [[ ",$extras," == *",test,"* ]] && ! command -v chromium-headless-shell >/dev/null 2>&1 \
   && ! command -v chromium >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1; then
  echo "[setup] installing chromium-headless-shell (the report's HTML check in the tests)"
  apt_install chromium-headless-shell || echo "[setup] warning: no headless Chromium; its test will skip" >&2
fi

if [ ! -x .venv/bin/python ]; then
  echo "[setup] creating .venv"
  python3 -m venv .venv
fi
if ! .venv/bin/python -c "import torch" >/dev/null 2>&1; then
  echo "[setup] installing torch==2.13.0"
  .venv/bin/pip install -q "torch==2.13.0"
fi
spec="."
[ -n "$extras" ] && spec=".[$extras]"
echo "[setup] installing visuomotor$([ -n "$extras" ] && echo "[$extras]")"
# (pip's own exit status counts; only its noise about missing local wheel folders is filtered)
.venv/bin/pip install -q -e "$spec" 2> >(grep -v "is ignored: it is neither a file nor a directory" >&2)
.venv/bin/python -c "import visuomotor, torch, mujoco, dm_control; print('[setup] ok: visuomotor', visuomotor.__version__, '| torch', torch.__version__, '| mujoco', mujoco.__version__, '| MUJOCO_GL', __import__('os').environ.get('MUJOCO_GL'))"
