#!/usr/bin/env bash
# The project's test command (npm test): boots the S3 test server (scripts/s3-server.sh), runs jest with
# the given arguments against it, stops the server, and exits with jest's exit code.
#   KEEP_S3=1            leave the server running afterwards
#   S3_TEST_ENDPOINT set use that server as it is (with S3_TEST_ACCESS_KEY_ID/SECRET_ACCESS_KEY/REGION)
# A server already running in the state folder is reused and left running.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
export PATH="$PWD/node_modules/.bin:$PATH" # node 24 from devDependencies, not the system's

# Restores record stat indexes, and a store without an address is a folder, under the user's cache folder:
# the tests' go to a temporary one.
cache_home=$(mktemp -d)
export XDG_CACHE_HOME="$cache_home"

started=0
stop_server() {
  rm -rf "$cache_home"
  if [ "$started" = 1 ] && [ "${KEEP_S3:-}" != 1 ]; then
    bash scripts/s3-server.sh stop || true
  fi
}
trap stop_server EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

if [ -z "${S3_TEST_ENDPOINT:-}" ]; then
  if ! bash scripts/s3-server.sh status 2>/dev/null; then
    started=1
    bash scripts/s3-server.sh start
  fi
  settings=$(bash scripts/s3-server.sh env)
  eval "$settings"
fi

status=0
export TEST_SUMMARY_FILE
TEST_SUMMARY_FILE=$(mktemp)
node --experimental-vm-modules node_modules/jest/bin/jest.js "$@" || status=$?
echo
cat "$TEST_SUMMARY_FILE" 2>/dev/null || echo "tests: 0 passed, 1 failed (jest did not report)"
rm -f "$TEST_SUMMARY_FILE"
exit "$status"
