# lua/local.mk: Redis scripts, embedded into the library as C source text.
# Every script file appends itself to LUA_SRC in the fragment of the
# module that uses it.
# LUA_COMMON goes before every script, then the libraries of LUA_LIBS the
# script names with "-- @include NAME" lines.
LUA_COMMON = lua/lib/common.lua
LUA_LIBS = lua/lib/alloc.lua lua/lib/health.lua lua/lib/queue.lua
LUA_SRC =
EXTRA_DIST += lua/embed.sh $(LUA_COMMON) $(LUA_LIBS) $(LUA_SRC)

src/lib/ra_scripts.h: src/lib/ra_scripts.c
src/lib/ra_scripts.c: $(srcdir)/lua/embed.sh $(LUA_COMMON:%=$(srcdir)/%) \
    $(LUA_LIBS:%=$(srcdir)/%) $(LUA_SRC:%=$(srcdir)/%)
	$(AM_V_GEN)$(MKDIR_P) src/lib && \
	$(SHELL) $(srcdir)/lua/embed.sh src/lib/ra_scripts.c src/lib/ra_scripts.h \
		$(srcdir)/$(LUA_COMMON) $(LUA_SRC:%=$(srcdir)/%)

# tests/bench/alloc reads the scripts of the generated file with this.
EXTRA_DIST += tests/bench/alloc_cpu.py

BUILT_SOURCES += src/lib/ra_scripts.c src/lib/ra_scripts.h
CLEANFILES += src/lib/ra_scripts.c src/lib/ra_scripts.h
