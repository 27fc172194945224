-- pool_delete.lua: one step of deleting a pool.  The first step marks it
-- deleted (leases, adds fail with NO_SUCH_POOL from then on) and drops it
-- from the registry; every step removes up to count items (held ones
-- drain); when no item is left every key goes.
--
-- KEYS: the 12 pool keys (see lib/alloc.lua), 13: the registry SET of pools
-- ARGV: 1 pool name, 2 scan cursor ("0" first), 3 count, 4 first (1/0)
-- Returns: { next cursor ("0" = sweep done), items left (draining) }
-- Errors: NO_SUCH_POOL, BAD_ARGUMENT
-- @include alloc
local e = bad_key(ARGV[1], 'pool name')
if e then return bad(e) end
local count, err = arg_range(ARGV[3], 'count', 1, 100000)
if not count then return bad(err) end
local conf
conf, err = pool_conf(ARGV[4] == '1')
if not conf then return err end
if ARGV[4] == '1' then
	redis.call('HSET', KEYS[1], 'deleted', 1)
	redis.call('SREM', KEYS[13], ARGV[1])
end
conf.deleted = true
local r = redis.call('HSCAN', KEYS[2], ARGV[2], 'COUNT', count)
local v = r[2]
for i = 1, #v, 2 do
	item_remove(v[i], conf, item_decode(v[i + 1]))
end
local left = redis.call('HLEN', KEYS[2])
if r[1] == '0' and left == 0 then
	pool_drop()
end
return { r[1], left }
