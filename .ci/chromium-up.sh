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
export DEBIAN_FRONTEND=noninteractive
if ! apt-cache show "${missing[@]}" >/dev/null 2>&1; then
    log "apt-get update"
    apt-get update -qq >&2
fi
log "installing ${missing[*]}"
if ! apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2; then
    log "install failed; refreshing package lists and retrying"
    apt-get update -qq >&2
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
fi
chromium --version >&2
dot -V
