#!/usr/bin/env bash
# Creates the Python virtualenv for the model tooling at <project root>/.venv-models (gitignored)
# and installs the pinned requirements. Usage: models/tools/setup-venv.sh
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
VENV="$ROOT/.venv-models"
PYTHON="${PYTHON:-python3}"
if [ ! -x "$VENV/bin/python" ]; then
  "$PYTHON" -m venv "$VENV"
fi
"$VENV/bin/python" -m pip install --upgrade --quiet pip
"$VENV/bin/python" -m pip install -r "$HERE/requirements.txt"
echo "ready: $VENV/bin/python $ROOT/models/tools/train.py --width 1"
