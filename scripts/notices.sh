#!/usr/bin/env bash
# notices.sh regenerates THIRD_PARTY_NOTICES.md: every Go module of go.mod with its version and the
# license file from the module cache, and the native libraries the release archive bundles with the
# license texts from the wheels scripts/setup.sh downloaded. Run it after changing go.mod or the
# libtorch version; internal/notices' tests fail while the file and go.mod disagree.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
go mod download
go run ./internal/notices/gen -gomod go.mod -o THIRD_PARTY_NOTICES.md "$@"
echo "wrote THIRD_PARTY_NOTICES.md ($(wc -c < THIRD_PARTY_NOTICES.md) bytes)"
