-- health_counts.lua: health totals of a pool, O(1) in its size.
--
-- KEYS: the 12 pool keys (see lib/alloc.lua), 13 due ZSET, 14 health HASH,
--       15 health stats HASH
-- ARGV: none
-- Returns: { up, down, probes, { reason, count, ... } } (errors by
--   reason, digits folded to '#', at most HEALTH_REASONS of them)
-- Errors: NO_SUCH_POOL
-- @include health
local conf, err = pool_conf(false)
if not conf then return err end
local c = redis.call('HMGET', KEYS[15], 'up', 'down', 'probes')
local all = redis.call('HGETALL', KEYS[15])
local errs = {}
for i = 1, #all, 2 do
	if string.sub(all[i], 1, 2) == 'e:' then
		errs[#errs + 1] = string.sub(all[i], 3)
		errs[#errs + 1] = tonumber(all[i + 1])
	end
end
return { tonumber(c[1]) or 0, tonumber(c[2]) or 0, tonumber(c[3]) or 0,
    errs }
