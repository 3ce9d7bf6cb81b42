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
# A pip configuration may list local index folders that do not exist (pip then warns once per
# package and folder, hundreds of lines); only that exact warning is dropped, pip's exit status
# and every other message are kept.
pip_install() {
  .venv/bin/python -m pip install -q "$@" 2>&1 |
    { grep -v "^WARNING: Location 'file://[^']*' is ignored: it is neither a file nor a directory\.$" || true; }
}
pip_install --upgrade pip
# setuptools warns on every editable install that a folder named like a package may shadow it;
# geo/ and service/ are the packages themselves, so the warning says nothing here
PYTHONWARNINGS=ignore pip_install -e '.[dev]'
