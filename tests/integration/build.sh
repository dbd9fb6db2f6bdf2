#!/bin/bash
# The programs are built and answer --version and --help.
. "$(dirname "$0")/lib.sh"
plan 4
check "chuted --version" "$CHUTED" --version
check "chutectl --version" "$CHUTECTL" --version
check "chuted --help" "$CHUTED" --help
check "chutectl --help" "$CHUTECTL" --help
