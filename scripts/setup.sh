#!/usr/bin/env bash
# Create .venv with Python 3.11+ and install xuncha with its development tools (idempotent).
set -euo pipefail
cd "$(dirname "$0")/.."
py=${PYTHON:-}
if [ -z "$py" ]; then
  for c in python3.11 python3.12 python3.13 python3; do
    if command -v "$c" >/dev/null 2>&1 && "$c" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
      py=$c; break
    fi
  done
fi
[ -n "$py" ] || { echo "需要 Python 3.11 或更高版本 (Python >= 3.11 is required)" >&2; exit 1; }
[ -x .venv/bin/python ] || "$py" -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
# setuptools warns on every editable install that a folder named like a package may shadow it;
# geo/ and service/ are the packages themselves, so the warning says nothing here
PYTHONWARNINGS=ignore .venv/bin/python -m pip install -q -e '.[dev]'
