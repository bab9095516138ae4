#!/usr/bin/env bash
# Install one commit of fileflow, non-editable, into its own venv, so a long benchmark
# measures a fixed version while the working tree keeps changing.
#
#   benchmarks/snapshot_fileflow.sh [COMMIT]       # default: HEAD
#   -> /opt/bench-fileflow-<short commit>/bin/fileflow
#   python benchmarks/bench_engine.py --fileflow /opt/bench-fileflow-<short commit>/bin/fileflow
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
commit="$(git -C "$repo" rev-parse --short "${1:-HEAD}")"
src="$(mktemp -d /tmp/fileflow-src-"$commit"-XXXX)"
venv="/opt/bench-fileflow-$commit"
python="${PYTHON:-python3.11}"
git -C "$repo" archive "$commit" | tar -x -C "$src"
"$python" -m venv "$venv"
"$venv/bin/pip" install -q "$src"
rm -rf "$src"
"$venv/bin/fileflow" --version
echo "$venv/bin/fileflow"
