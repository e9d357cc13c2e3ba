#!/bin/sh
# Builds the libFuzzer targets (tests/fuzz/fuzz_*.c) with clang, in a build
# folder of their own (default: _build-fuzz in the source tree; or $1), so
# the gcc build and "make check" never see them.  The project's libraries
# are built with -fsanitize=fuzzer-no-link,address,undefined (coverage for
# the fuzzer, no main()), the harnesses linked with -fsanitize=fuzzer.
# See tests/fuzz/README.md for running them.
set -eu

srcdir=$(cd "$(dirname "$0")/../.." && pwd)
builddir=${1:-$srcdir/_build-fuzz}
CC=${CC:-clang}
SAN="-fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer"
JOBS=${JOBS:-2}

test -x "$srcdir/configure" || (cd "$srcdir" && ./autogen.sh >/dev/null)
mkdir -p "$builddir"
cd "$builddir"
if ! test -f Makefile; then
	# --disable-werror: gcc is the compiler the -Werror build answers to;
	# clang's extra warnings are shown, not fatal.  Static convenience
	# libraries only, so the harnesses link the instrumented objects.
	"$srcdir/configure" -q CC="$CC" \
		CFLAGS="-g -O1 -fsanitize=fuzzer-no-link $SAN" \
		LDFLAGS="$SAN" --disable-werror --disable-shared \
		--prefix="$builddir/_inst" --localstatedir="$builddir/_var"
fi
for d in lib maildir sieve scoring lmtpd; do
	make -s -j"$JOBS" -C "$d"
done

mk() { sed -n "s/^$1 = //p" scoring/Makefile; }
CPPFLAGS="-I$builddir -I$srcdir/lib -I$srcdir/scoring -I$srcdir/lmtpd -I$srcdir/sieve -I$srcdir/maildir $(mk GMIME_CFLAGS) $(mk LIBXML2_CFLAGS) $(mk HS_CFLAGS)"
LIBS="lmtpd/.libs/liblmtpd.a scoring/.libs/libscoring.a sieve/.libs/liblmtpdsieve.a \
	maildir/.libs/libmaildir.a lib/.libs/liblmtpdutil.a $(mk SIEVE_LIBS) $(mk PCRE2_LIBS) $(mk GMIME_LIBS) $(mk LIBXML2_LIBS) $(mk HS_LIBS) $(mk IDN2_LIBS) $(mk SODIUM_LIBS) $(mk DB_LIBS) -lm"

mkdir -p fuzz
for src in "$srcdir"/tests/fuzz/fuzz_*.c; do
	name=$(basename "$src" .c)
	echo "  CCLD     fuzz/$name"
	# shellcheck disable=SC2086
	$CC -g -O1 -fsanitize=fuzzer $SAN $CPPFLAGS -o "fuzz/$name" "$src" $LIBS
done
