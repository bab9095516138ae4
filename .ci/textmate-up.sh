#!/usr/bin/env bash
# Install what tests/test_editor_syntax.py needs (Debian/Ubuntu, as root): Node.js and npm
# (from apt when absent), the npm packages vscode-textmate and vscode-oniguruma (VS Code's
# own TextMate tokenizer) in a fixed folder, and a vim built with syntax support (vim-tiny
# has none). Idempotent: installs only what is missing. Progress goes to stderr; stdout is
#   export FILEFLOW_TEXTMATE_NODE_PATH=<folder>/node_modules
set -euo pipefail

dir=${FILEFLOW_TEXTMATE_DIR:-/opt/fileflow-textmate}
log() { echo "textmate-up: $*" >&2; }

missing=()
command -v node >/dev/null 2>&1 || missing+=(nodejs)
command -v npm >/dev/null 2>&1 || missing+=(npm)
vim --version 2>/dev/null | grep -q '+syntax' || missing+=(vim)
if [ "${#missing[@]}" -gt 0 ]; then
    bash "$(dirname "$0")/apt-install.sh" "${missing[@]}"
fi

# Pinned versions; a folder holding other versions is brought to these.
manifest='{"name": "fileflow-textmate", "private": true, "dependencies": {"vscode-textmate": "9.3.2", "vscode-oniguruma": "2.0.1"}}'
mkdir -p "$dir"
if [ "$(cat "$dir/package.json" 2>/dev/null)" != "$manifest" ] \
        || [ ! -f "$dir/node_modules/vscode-textmate/package.json" ] \
        || [ ! -f "$dir/node_modules/vscode-oniguruma/release/onig.wasm" ]; then
    log "npm install vscode-textmate vscode-oniguruma into $dir"
    printf '%s\n' "$manifest" > "$dir/package.json"
    (cd "$dir" && npm install --no-audit --no-fund --loglevel=error >&2)
else
    log "vscode-textmate and vscode-oniguruma already in $dir"
fi
log "$(node --version), $(vim --version | head -1)"
echo "export FILEFLOW_TEXTMATE_NODE_PATH=$dir/node_modules"
