#!/usr/bin/env bash
# The Swift tests, one at a time (suites start real PostgreSQL servers, dockerd engines and HTTP
# servers, and their time bounds assume the machine is not also running every other suite).
# The whole output goes to the terminal and to .build/swift-test.log; when a test fails, the run
# ends with the failing tests' lines, so that the last lines of a CI log name them.
set -uo pipefail
cd "$(dirname "$0")/.."
log=.build/swift-test.log
mkdir -p .build
"${SWIFT:-swift}" test --skip-build --no-parallel "$@" 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
if [ "$status" -ne 0 ]; then
    echo
    echo "==== the Swift tests failed (exit $status); their failures, from $log: ===="
    grep -aE '✘|recorded an issue|Fatal error|fatalError|Precondition failed|error: .*Test|Test run with|Exited with (signal|unexpected)' "$log" \
        | grep -av 'recorded a known issue' | tail -80
fi
exit "$status"
