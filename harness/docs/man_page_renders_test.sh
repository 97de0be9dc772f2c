#!/usr/bin/env bash
# unit/man-page-renders-without-warnings: groff reads the page as man(7)
# with every warning on (-ww), and says nothing.
#   man_page_renders_test.sh MAN_PAGE
set -euo pipefail
if ! command -v groff >/dev/null; then
  echo "SKIPPED: groff is not installed (ci/install-deps installs groff-base)"
  exit 0
fi
warnings=$(LC_ALL=C.UTF-8 groff -man -Tutf8 -ww -z "$1" 2>&1) || {
  echo "groff failed on $1: $warnings"
  exit 1
}
if [[ -n "$warnings" ]]; then
  echo "groff warns about $1:"
  echo "$warnings"
  exit 1
fi
echo "$1: no warning from groff -man -ww"
