#!/usr/bin/env bash
# Install Debian packages (as root) for the other .ci/*-up.sh scripts, which pass only the
# ones they found missing: `bash .ci/apt-install.sh PKG...`. Refreshes the package lists
# when apt does not know a package, and once more if the install fails (stale lists on a
# fresh machine). Progress goes to stderr.
set -euo pipefail

[ "$#" -gt 0 ] || exit 0
export DEBIAN_FRONTEND=noninteractive
if ! apt-cache show "$@" >/dev/null 2>&1; then
    echo "apt-install: apt-get update" >&2
    apt-get update -qq >&2
fi
echo "apt-install: installing $*" >&2
if ! apt-get install -y -qq --no-install-recommends "$@" >&2; then
    echo "apt-install: install failed; refreshing package lists and retrying" >&2
    apt-get update -qq >&2
    apt-get install -y -qq --no-install-recommends "$@" >&2
fi
