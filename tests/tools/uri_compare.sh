#!/bin/sh
# uri_compare.sh: scoring/uri.c against SpamAssassin's get_uri_list() on
# corpus groups, each message fed SpamAssassin's own inputs (body text
# array and HTML URIs, dumped by sa_uris.pl), so only uri.c is compared.
#
# usage: uri_compare.sh BUILD_DIR WORK_DIR GROUP_DIR...
#   e.g. uri_compare.sh _build /tmp/uricmp \
#            /work/cache/package/data/easy-ham-1 /work/cache/package/data/spam-1
#
# Prints "GROUP: N / M match" per group and the total; the differences
# are in WORK_DIR/GROUP.diff.  Exit status 1 if any message differs.
# (Tune on easy-ham-1 and spam-1 only; the other groups are held out.)
set -eu

[ $# -ge 3 ] || { echo "usage: $0 BUILD_DIR WORK_DIR GROUP_DIR..." >&2; exit 2; }
build=$1
work=$2
shift 2
tools=$(cd "$(dirname "$0")" && pwd)
uridump=$build/tests/tools/uridump
[ -x "$uridump" ] || { echo "$uridump: not built (make -C $build)" >&2; exit 2; }

total=0
same=0
for dir in "$@"; do
	group=$(basename "$dir")
	out=$work/$group
	rm -rf "$out"
	mkdir -p "$out"
	perl "$tools/sa_uris.pl" "$out" "$dir"/*.txt 2>"$work/$group.sa-stderr"
	"$uridump" -o "$out" "$out"/*.in
	n=0
	ok=0
	: >"$work/$group.diff"
	for sa in "$out"/*.sa; do
		n=$((n + 1))
		if cmp -s "$sa" "${sa%.sa}.c"; then
			ok=$((ok + 1))
		else
			echo "== ${sa%.sa}" >>"$work/$group.diff"
			diff "$sa" "${sa%.sa}.c" >>"$work/$group.diff" || true
		fi
	done
	echo "$group: $ok / $n match"
	total=$((total + n))
	same=$((same + ok))
done
echo "total: $same / $total match"
[ "$same" -eq "$total" ]
