#!/bin/sh
# tests/python/run.sh: make check's entry to the pytest suite of the
# proxypool package (contrib/python): tests/python/test_*.py against a
# real proxypoold, redis-server, tinyproxy upstreams and the local target
# (conftest.py starts them).  Exits with pytest's status; .ci/run counts
# its summary line ("N passed, N failed, N skipped") and its "SKIPPED"
# reasons (-rs).
: "${PYTHON3:=/usr/bin/python3}"
"$PYTHON3" -c 'import pytest' 2>/dev/null || {
	echo "skip: pytest not found (python3-pytest)"; exit 77; }
# nothing written into the source tree (read-only under make distcheck)
PYTHONDONTWRITEBYTECODE=1
export PYTHONDONTWRITEBYTECODE
exec "$PYTHON3" -m pytest -c /dev/null -p no:cacheprovider -v -rs --color=no \
    --rootdir "$top_srcdir/tests/python" "$top_srcdir/tests/python"
