#!/usr/bin/env bash
# The console's own tool chain (services/console/web): `scripts/console.sh build` installs its
# locked dependencies when they changed (npm ci) and builds it into web/dist, which srs-console
# and `srs serve` serve (embedded in release builds); `scripts/console.sh check` also runs its
# type check (svelte-check on the API types generated from docs/openapi.json), lint (eslint)
# and unit tests (vitest). Node.js and npm come from the OS packages.
set -euo pipefail
cd "$(dirname "$0")/../services/console/web"
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
if ! command -v npm >/dev/null 2>&1; then
    $SUDO apt-get update -q && $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q nodejs npm
fi
stamp=node_modules/.package-lock.sha256
want=$(sha256sum package-lock.json | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
    npm ci --no-audit --no-fund
    echo "$want" >"$stamp"
fi
case "${1:-build}" in
    build) npm run build ;;
    check) npm run check && npm run lint && npm test && npm run build ;;
    *) echo "usage: scripts/console.sh [build|check]" >&2; exit 2 ;;
esac
