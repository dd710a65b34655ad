#!/usr/bin/env bash
# Install the pinned, hash-checked gate tools (requirements.txt) into deploy/tools/.venv; a no-op while
# requirements.txt is unchanged. Needs uv (the Makefile installs it) and Python 3.11.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
venv="$here/.venv"
stamp="$venv/.requirements.sha256"
want="$(sha256sum "$here/requirements.txt" | cut -d' ' -f1)"
if [[ -f $stamp && "$(cat "$stamp")" == "$want" ]]; then
  echo "deploy tools: up to date ($venv)"
  exit 0
fi
uv venv --quiet --allow-existing --python 3.11 "$venv"
VIRTUAL_ENV="$venv" uv pip sync --quiet --require-hashes "$here/requirements.txt"
echo "$want" >"$stamp"
echo "deploy tools: installed into $venv"
