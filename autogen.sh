#!/bin/sh
# Generates configure and the Makefile.in files from a git checkout.
set -e
cd "$(dirname "$0")"
mkdir -p build-aux m4
autoreconf --force --install --warnings=all
# The TAP driver is not installed by autoreconf; the unit tests report
# through it so that the summary counts test cases.
cp -f "$(automake --print-libdir)/tap-driver.sh" build-aux/tap-driver.sh
