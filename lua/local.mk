# lua/local.mk: the server-side code, one file per noun, joined in this
# order (a file may use what the files before it define) into one Redis
# Functions library, lua/redisallocator.lua in the build tree, and
# embedded into the library as C source.
LUA_SRC = lua/common.lua lua/item.lua lua/bind.lua lua/eject.lua \
	lua/reclaim.lua lua/lease.lua lua/pool.lua lua/health.lua \
	lua/events.lua lua/lock.lua lua/queue.lua
EXTRA_DIST += lua/build.sh $(LUA_SRC)

LUA_OUT = lua/redisallocator.lua src/lib/ra_functions.c src/lib/ra_functions.h
src/lib/ra_functions.h lua/redisallocator.lua: src/lib/ra_functions.c
src/lib/ra_functions.c: $(srcdir)/lua/build.sh $(LUA_SRC:%=$(srcdir)/%)
	$(AM_V_GEN)$(MKDIR_P) src/lib lua && \
	$(SHELL) $(srcdir)/lua/build.sh lua/redisallocator.lua \
		src/lib/ra_functions.c src/lib/ra_functions.h \
		$(LUA_SRC:%=$(srcdir)/%)

BUILT_SOURCES += $(LUA_OUT)
CLEANFILES += $(LUA_OUT)
