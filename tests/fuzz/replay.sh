#!/bin/sh
# replay.sh: run every fuzz harness once on each file of its committed
# corpus (tests/fuzz/corpus/<harness>/); any crash, sanitizer report or
# failed check fails the test.  The harnesses run under ASan and UBSan
# when configure found them (or with --enable-fuzz).
. "$top_srcdir/tests/lib.sh"

# leaks in system libraries (ASan builds, --enable-fuzz)
LSAN_OPTIONS="suppressions=$top_srcdir/tests/fuzz/lsan.supp${LSAN_OPTIONS:+:$LSAN_OPTIONS}"
export LSAN_OPTIONS

for h in fuzz_resp fuzz_proxyurl fuzz_conf fuzz_codec fuzz_proxyfile \
    fuzz_gwhttp fuzz_gwsocks; do
	dir="$top_srcdir/tests/fuzz/corpus/$h"
	n=$(ls "$dir" | wc -l)
	check "$h corpus has seeds" test "$n" -ge 10
	# file arguments work both for driver.c and for libFuzzer (which
	# runs each once)
	if TMPDIR="$T" "$top_builddir/tests/fuzz/$h" "$dir"/* \
	    >"$T/$h.out" 2>&1; then
		ok "$h replays $n inputs"
	else
		# the input that failed and the start of the report (the
		# sanitizer's error and stacks, or the failed check)
		grep '^Running: ' "$T/$h.out" | tail -1 | sed 's/^/# /'
		grep -v -e '^Running: ' -e '^Executed ' "$T/$h.out" |
			head -30 | sed 's/^/# /'
		not_ok "$h replays $n inputs"
	fi
done
finish
