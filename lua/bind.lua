-- bind.lua: bind a name to an item (soft binding: a lease with that name
-- prefers the item).  An item carries at most 256 names; binding one more
-- drops its lexicographically first name.
--
-- KEYS: the 12 pool keys (see lib/alloc.lua)
-- ARGV: 1 name, 2 item, 3 ttl ms (-1 = the pool's bind_ttl, 0 = forever)
-- Returns: 1
-- Errors: NOT_FOUND (no such item, or draining), NO_SUCH_POOL,
--   BAD_ARGUMENT
-- @include alloc
local conf, err = pool_conf(true)
if not conf then return err end
local e = bad_key(ARGV[1], 'binding name') or bad_key(ARGV[2], 'item')
if e then return bad(e) end
local ttl
ttl, e = arg_ms(ARGV[3], 'binding ttl', true)
if not ttl then return bad(e) end
if ttl == -1 then ttl = conf.bind_ttl end
local m = item_get(ARGV[2])
if not m or m.st == 'd' then
	return fail('NOT_FOUND', 'no such item')
end
bind_set(ARGV[1], ARGV[2], ttl, now_ms(), conf)
return 1
