#!/usr/bin/env bash
# Install the shells whose completion scripts tests/test_completion.py drives for real
# (zsh and fish; bash is always there). Debian/Ubuntu, as root. Idempotent: installs only
# what is missing. Progress goes to stderr; there is no environment to export.
set -euo pipefail

log() { echo "shells-up: $*" >&2; }

missing=()
command -v zsh >/dev/null 2>&1 || missing+=(zsh)
command -v fish >/dev/null 2>&1 || missing+=(fish)
if [ "${#missing[@]}" -eq 0 ]; then
    log "zsh and fish already installed"
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
zsh --version >&2
fish --version >&2
