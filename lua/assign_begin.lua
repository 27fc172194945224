-- assign_begin.lua: start an assign (or clear): a new generation.  The
-- items of the assign are then added with it (items_add.lua) and
-- assign_sweep.lua removes every item of an older generation.
--
-- KEYS: the 12 pool keys (see lib/alloc.lua)
-- ARGV: none
-- Returns: the new generation.
-- Errors: NO_SUCH_POOL
-- @include alloc
local conf, err = pool_conf(true)
if not conf then return err end
return redis.call('HINCRBY', KEYS[1], 'gen', 1)
