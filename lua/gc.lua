-- gc.lua: reclaim up to count expired leases, expired bindings, expired
-- items and ended quarantines (the lease path does a small batch of
-- this on every call; this is the periodic sweep).
--
-- KEYS: the 12 pool keys (see lib/alloc.lua)
-- ARGV: 1 count
-- Returns: { leases, bindings, items, quarantine } reclaimed
-- Errors: NO_SUCH_POOL, BAD_ARGUMENT
-- @include alloc
local conf, err = pool_conf(false)
if not conf then return err end
local count, e = arg_range(ARGV[1], 'count', 1, 100000)
if not count then return bad(e) end
return reclaim(now_ms(), count, conf)
