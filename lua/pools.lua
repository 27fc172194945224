-- pools.lua: the names of all pools.
--
-- KEYS: 1 the registry SET of pools
-- ARGV: none
-- Returns: array of pool names (sorted).
local v = redis.call('SMEMBERS', KEYS[1])
table.sort(v)
return v
