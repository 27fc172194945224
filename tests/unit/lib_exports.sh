#!/bin/sh
# lib_exports.sh: libredisallocator.so exports the API of redis_allocator.h
# and nothing else.  The link exports what src/lib/libredisallocator.sym
# lists (src/lib/local.mk); this test holds that list against the header
# both ways, so a function added to the header but not to the list (a
# caller would fail to link) or a name the header does not declare fails,
# and holds the built library's dynamic symbols against the header, so
# nothing internal (ra_args_*, ra_build_*, ra_decode_*...) is exported.
. "$top_srcdir/tests/lib.sh"

skip_unless nm
hdr=$top_srcdir/src/lib/redis_allocator.h
sym=$top_srcdir/src/lib/libredisallocator.sym
la=$top_builddir/libredisallocator.la

# The names of the functions and data objects the header declares: with
# comments and preprocessor lines gone, one statement per ; { or }; a
# statement with "ra_...(" declares that function (the first such name:
# the others are parameters), unless it is a typedef (ra_async_fn,
# ra_task_fn); an extern one without "(" declares its last name.
declared() {
	awk '
	{ src = src $0 "\n" }
	END {
		out = ""
		while ((i = index(src, "/*")) > 0) {
			out = out substr(src, 1, i - 1) " "
			src = substr(src, i + 2)
			j = index(src, "*/")
			src = j > 0 ? substr(src, j + 2) : ""
		}
		src = out src
		nl = split(src, line, "\n")
		text = ""
		for (k = 1; k <= nl; k++)
			if (line[k] !~ /^[ \t]*#/)
				text = text " " line[k]
		gsub(/extern "C"/, "", text)
		ns = split(text, stmt, /[;{}]/)
		for (k = 1; k <= ns; k++) {
			s = stmt[k]
			if (s ~ /^[ \t]*typedef[ \t]/)
				continue
			if (match(s, /ra_[A-Za-z0-9_]*[ \t]*\(/)) {
				name = substr(s, RSTART, RLENGTH)
				sub(/[ \t]*\($/, "", name)
				print name
			} else if (s ~ /^[ \t]*extern[ \t]/) {
				sub(/[ \t]*(\[[^]]*\])?[ \t]*$/, "", s)
				if (match(s, /[A-Za-z_][A-Za-z0-9_]*$/))
					print substr(s, RSTART, RLENGTH)
			}
		}
	}' "$1"
}

# report DESCRIPTION FILE: ok if FILE is empty, else its names and not ok
report() {
	if [ -s "$2" ]; then
		sed 's/^/# /' "$2"
		not_ok "$1: $(wc -l <"$2" | tr -d ' ')"
	else
		ok "$1"
	fi
}

declared "$hdr" | LC_ALL=C sort -u >"$T/declared"
check "the header declares functions" test -s "$T/declared"
LC_ALL=C sort -u "$sym" >"$T/listed"
LC_ALL=C comm -23 "$T/declared" "$T/listed" >"$T/unlisted"
report "every function of the header is in libredisallocator.sym" \
    "$T/unlisted"
LC_ALL=C comm -13 "$T/declared" "$T/listed" >"$T/undeclared"
report "libredisallocator.sym lists only what the header declares" \
    "$T/undeclared"

# The shared library libtool made, by its name in the .la (dlname is
# empty in a --disable-shared build: nothing exported to check).
if [ ! -f "$la" ]; then
	not_ok "libredisallocator.la was built"
	finish
fi
dlname=$(sed -n "s/^dlname='\(.*\)'$/\1/p" "$la")
if [ -z "$dlname" ]; then
	skip "the shared library exports the API only" "no shared library"
	finish
fi
so=$top_builddir/.libs/$dlname
check "the shared library was built" test -f "$so"
if nm -D --defined-only "$so" >"$T/nm" 2>"$T/err"; then
	ok "nm reads the shared library"
else
	sed 's/^/# /' "$T/err"
	not_ok "nm reads the shared library"
fi
# "address type name", the name maybe with a version ("@@V")
awk 'NF >= 2 { sub(/@.*/, "", $NF); print $NF }' "$T/nm" |
    LC_ALL=C sort -u >"$T/exported"
LC_ALL=C comm -13 "$T/declared" "$T/exported" >"$T/internal"
report "the library exports nothing the header does not declare" \
    "$T/internal"
LC_ALL=C comm -23 "$T/declared" "$T/exported" >"$T/missing"
report "the library exports every function of the header" "$T/missing"
finish
