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
bash "$(dirname "$0")/apt-install.sh" "${missing[@]}"
zsh --version >&2
fish --version >&2
