#!/usr/bin/env bash
# Install SST's platform (.sst/platform: its components' sources and types, config.d.ts) so that
# sst.config.ts type-checks against the real thing. Offline-capable: SST_NO_BUN=1 makes `sst install` fetch
# the platform's npm dependencies with npm instead of downloading Bun and Pulumi. Does nothing when the
# installed platform already matches the `sst` package's version.
set -euo pipefail
cd "$(dirname "$0")/../.."

want="$(node -p 'JSON.parse(require("fs").readFileSync("node_modules/sst/package.json", "utf8")).version')"
if [[ -f .sst/platform/config.d.ts && "$(cat .sst/platform/version 2>/dev/null)" == "$want" ]]; then
  echo "SST platform $want already installed in .sst/platform"
  exit 0
fi
SST_NO_BUN=1 SST_SKIP_DEPENDENCY_CHECK=1 SST_TELEMETRY_DISABLED=1 npx --no-install sst install --stage dev
test -f .sst/platform/config.d.ts
