#!/usr/bin/env bash
# Create (or refresh) the virtual environment at .venv with a pinned, measured dependency set.
#
#   scripts/setup.sh            CPU profile: engine + host + dev + train + panel + ray (what the tests and the demo need)
#   RIVER_PROFILE=gpu scripts/setup.sh    GPU profile: CUDA torch 2.13.0 + torchvision 0.28.0
#   RIVER_EXTRAS=engine,host,panel scripts/setup.sh   choose the extras yourself
#
# Re-running is cheap: it reinstalls only when pyproject.toml or the constraints changed.
set -euo pipefail
cd "$(dirname "$0")/.."

profile="${RIVER_PROFILE:-cpu}"
case "$profile" in
  cpu) constraints=constraints/cpu.txt; default_extras=engine,host,dev,train,panel,ray ;;
  gpu) constraints=constraints/gpu.txt; default_extras=gpu,host,dev,panel ;;
  *) echo "setup: RIVER_PROFILE must be cpu or gpu, not '$profile'" >&2; exit 2 ;;
esac
extras="${RIVER_EXTRAS:-$default_extras}"
python="${PYTHON:-python3}"

if ! "$python" -c 'import sys; sys.exit(sys.version_info < (3, 10))' 2>/dev/null; then
  echo "setup: RIVER NLE needs Python 3.10 or newer ('$python' is $("$python" --version 2>&1)); set PYTHON=python3.11" >&2
  exit 2
fi

stamp_value="$profile $extras $(cat pyproject.toml "$constraints" | sha256sum | cut -c1-16)"
if [ -x .venv/bin/python ] && [ -x .venv/bin/river ] && [ "$(cat .venv/.river-stamp 2>/dev/null)" = "$stamp_value" ]; then
  exit 0
fi

if [ ! -x .venv/bin/python ]; then
  echo "setup: creating .venv with $("$python" --version)"
  "$python" -m venv .venv
fi
# The constraints pin torch 2.13.0: without them any package that wants a newer torch would pull
# a CUDA build and gigabytes of nvidia wheels into a CPU machine. See README > Troubleshooting.
echo "setup: installing the '$profile' profile (extras: $extras) — a few minutes the first time"
.venv/bin/python -m pip install --quiet -c "$constraints" -e ".[${extras}]"
if [ "$profile" = cpu ] && .venv/bin/python -m pip show torchvision >/dev/null 2>&1; then
  echo "setup: torchvision got installed into a CPU profile; it breaks transformers here. Remove it: .venv/bin/pip uninstall torchvision" >&2
  exit 1
fi
echo "$stamp_value" > .venv/.river-stamp
echo "setup: done — .venv/bin/river is ready"
