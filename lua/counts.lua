-- counts.lua: items per state, O(1) (after reclaiming a small batch of
-- expired leases, bindings, items and quarantines).
--
-- KEYS: the 12 pool keys (see lib/alloc.lua)
-- ARGV: 1 reclaim batch
-- Returns: { total, free, leased, shared, quarantined, draining, leases,
--   bindings }
-- Errors: NO_SUCH_POOL, BAD_ARGUMENT
-- @include alloc
local conf, err = pool_conf(false)
if not conf then return err end
local batch, e = arg_range(ARGV[1], 'reclaim batch', 0, 100000)
if not batch then return bad(e) end
if batch > 0 then
	reclaim(now_ms(), batch, conf)
	if conf.deleted and redis.call('EXISTS', KEYS[1]) == 0 then
		return fail('NO_SUCH_POOL', 'no such pool')
	end
end
local c = redis.call('HMGET', KEYS[1], 'nleased', 'nshared', 'ndrain')
return { redis.call('HLEN', KEYS[2]), redis.call('ZCARD', KEYS[3]),
    tonumber(c[1]) or 0, tonumber(c[2]) or 0, redis.call('ZCARD', KEYS[7]),
    tonumber(c[3]) or 0, redis.call('ZCARD', KEYS[5]),
    redis.call('HLEN', KEYS[8]) }
