#!/usr/bin/env bash
# Install what the report and graph tests need (Debian/Ubuntu, as root): headless Chromium
# (tests/test_viz_report.py drives it over the DevTools pipe) and Graphviz (the DOT that
# `fileflow graph` writes must parse with `dot`; .svg/.png rendering). Idempotent: installs
# only what is missing. Progress goes to stderr; there is no environment to export.
set -euo pipefail

log() { echo "chromium-up: $*" >&2; }

missing=()
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
command -v dot >/dev/null 2>&1 || missing+=(graphviz)
if [ "${#missing[@]}" -eq 0 ]; then
    log "chromium and graphviz already installed"
    exit 0
fi
bash "$(dirname "$0")/apt-install.sh" "${missing[@]}"
chromium --version >&2
dot -V
