#!/bin/sh
# lua_lint.sh: the functions library (lua/redisallocator.lua of the build
# tree) compiles, and reads no global but Redis' own API and Lua's
# standard functions: a misspelt or undeclared helper name is a global,
# which Redis refuses only when a call reaches that line.  Writes to
# globals are refused at load, but are listed here too.
. "$top_srcdir/tests/lib.sh"

LUAC=${LUAC:-luac5.1}
lib=$top_builddir/lua/redisallocator.lua
check "the library was built" test -s "$lib"
if ! command -v "$LUAC" >/dev/null 2>&1; then
	skip "the library reads only allowed globals" "$LUAC not found"
	finish
fi
# luac does not know the "#!lua" line Redis wants first
sed '1s/^#!.*//' "$lib" >"$T/lib.lua"
if "$LUAC" -p -l "$T/lib.lua" >"$T/listing" 2>"$T/err"; then
	ok "the library compiles"
else
	sed 's/^/# /' "$T/err"
	not_ok "the library compiles"
fi
allowed='^(redis|string|table|math|tonumber|tostring|type|unpack|pairs|ipairs|next|select|error|pcall|struct|cjson|cmsgpack|bit)$'
bad=$(sed -n 's/.*[GS]ETGLOBAL.*; \([A-Za-z_][A-Za-z0-9_]*\)$/\1/p' \
    "$T/listing" | sort -u | grep -Ev "$allowed")
expect_eq "no global but Redis' and Lua's own" "" "$bad"
sets=$(grep -c 'SETGLOBAL' "$T/listing")
expect_eq "nothing assigned to a global" "0" "$sets"
finish
