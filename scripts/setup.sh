#!/usr/bin/env bash
# Install everything visuomotor needs into ./.venv (idempotent):
#   - Mesa's EGL and OSMesa from Debian/Ubuntu packages, for headless MuJoCo rendering;
#   - torch==2.13.0 first when the venv has no torch (a CPU build; an unpinned torch would pull
#     GBs of CUDA wheels), then the package with its dependencies (and extras given as $1, e.g. test).
set -euo pipefail
cd "$(dirname "$0")/.."
extras="${1:-}"

have_lib() { ldconfig -p 2>/dev/null | grep -q "$1"; }
if ! have_lib 'libEGL.so.1' || ! have_lib 'libOSMesa.so' || ! have_lib 'libGL.so.1'; then
  if command -v apt-get >/dev/null 2>&1; then
    sudo=""; [ "$(id -u)" = 0 ] || sudo="sudo"
    echo "[setup] installing Mesa EGL/OSMesa (headless OpenGL for MuJoCo rendering)"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends \
      libegl1 libegl-mesa0 libgl1 libgl1-mesa-dri libgles2 libosmesa6 >/dev/null
  else
    echo "[setup] warning: no apt-get; install an EGL or OSMesa OpenGL yourself for rendering" >&2
  fi
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
.venv/bin/pip install -q -e "$spec" 2>&1 | grep -v "is ignored: it is neither a file nor a directory" || true
.venv/bin/python -c "import visuomotor, torch, mujoco, dm_control; print('[setup] ok: visuomotor', visuomotor.__version__, '| torch', torch.__version__, '| mujoco', mujoco.__version__, '| MUJOCO_GL', __import__('os').environ.get('MUJOCO_GL'))"
