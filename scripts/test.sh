#!/usr/bin/env bash
# Runs every test of the project. Installs what the tests need first, so it works on a fresh
# machine (CI runs it through .ci/run).
set -euo pipefail
cd "$(dirname "$0")/.."

command -v python3 >/dev/null || { echo "python3 is required (the conformance corpus runs its Lambda handlers with it)" >&2; exit 1; }
if [ ! -d ../shared/conformance ] && [ -z "${STEPWISE_CORPUS:-}" ]; then
  echo "the conformance corpus (../shared/conformance) is missing; set STEPWISE_CORPUS to its directory" >&2
  exit 1
fi

if command -v cargo-nextest >/dev/null 2>&1; then
  # doc tests first: nextest's summary must be the closing line CI reads
  cargo test --workspace --doc
  cargo nextest run --workspace --no-fail-fast
else
  cargo test --workspace --no-fail-fast
fi
