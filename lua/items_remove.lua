-- items_remove.lua: remove items (one chunk): free and quarantined ones
-- at once, held ones drain (leave when their last lease ends).
--
-- KEYS: the 12 pool keys (see lib/alloc.lua)
-- ARGV: the items
-- Returns: the number of items that were in the pool.
-- Errors: NO_SUCH_POOL, BAD_ARGUMENT (nothing changes).
-- @include alloc
local conf, err = pool_conf(false)
if not conf then return err end
for i = 1, #ARGV do
	local e = bad_key(ARGV[i], 'item')
	if e then return bad(e) end
end
local n = 0
for i = 1, #ARGV do
	n = n + item_remove(ARGV[i], conf)
end
return n
