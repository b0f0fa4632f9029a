#!/usr/bin/env bash
# Fails when dist/ differs from a fresh build of src/ (the committed bundle must match the source).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/node_modules/.bin:$PATH"
npm run --silent build >/dev/null
if [ -n "$(git status --porcelain -- dist)" ]; then
  echo "dist/ does not match a fresh build of src/; run 'npm run build' and commit dist/:" >&2
  git status --porcelain -- dist >&2
  git diff --stat -- dist >&2
  exit 1
fi
echo "dist/ matches a fresh build"
