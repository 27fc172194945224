#!/bin/sh
# gen_deps.sh: every object whose compile reads the generated
# src/lib/ra_functions.h depends on it in the Makefile itself
# (RA_FUNCTIONS_USERS, src/lib/local.mk), not only in the .deps file its
# first compile writes.  BUILT_SOURCES makes the header first for make
# all, check and install only, so a target asked for alone in a fresh
# tree (the README's make libredisallocator.la tests/fuzz/fuzz_resp, or
# make tests/unit/check_health) was compiled before the header existed.
# Which objects read it is what the compiler wrote in .deps; the
# Makefile's own rules are read from make's database with the .deps
# includes left out, as a fresh tree has them.
. "$top_srcdir/tests/lib.sh"

gen=src/lib/ra_functions.h
b=$top_builddir

# objects whose compile read the header: the first target of each .deps
# file naming it
find "$b" -path '*/.deps/*' \( -name '*.Po' -o -name '*.Plo' \) \
    -exec grep -l "ra_functions\.h" {} + 2>/dev/null |
    while read -r f; do sed -n '1s/:.*//p' "$f"; done |
    LC_ALL=C sort -u >"$T/users"
if [ ! -s "$T/users" ]; then
	# configure --disable-dependency-tracking writes no .deps
	skip "objects reading $gen depend on it" "no dependency tracking"
	finish
fi
check "the library's own objects read $gen" \
    grep -qx 'src/lib/libredisallocator_internal_la-alloc.lo' "$T/users"

# the Makefile without its .deps includes
sed '/^include .*\$(DEPDIR)\//d' "$b/Makefile" >"$T/Makefile"
(cd "$b" && make -p -n -q -f "$T/Makefile" .no-such-target) \
    >"$T/db" 2>/dev/null
check "make prints its database" grep -q '^# Make data base' "$T/db"
# (an object the Makefile does not make any more, left in an old build
# tree with its .deps, is not asked about)
while read -r o; do
	awk -v o="$o:" -v h="$gen" '
	$1 == o { known = 1; for (i = 2; i <= NF; i++) if ($i == h) found = 1 }
	END { exit !(found || !known) }' "$T/db" || echo "$o"
done <"$T/users" >"$T/missing"
if [ -s "$T/missing" ]; then
	sed 's/^/# /' "$T/missing"
	not_ok "every object reading $gen depends on it in the Makefile:" \
	    "$(wc -l <"$T/missing" | tr -d ' ') do not"
else
	ok "every object reading $gen depends on it in the Makefile" \
	    "($(wc -l <"$T/users" | tr -d ' ') objects)"
fi
finish
