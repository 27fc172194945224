-- health_sync.lua: give every item of the pool a due time for its first
-- health check (items added by any client, on any instance), one HSCAN
-- page per call.  Items already scheduled keep their time (ZADD NX);
-- new ones are spread over spread ms so checks do not come in bursts.
--
-- KEYS: the 12 pool keys (see lib/alloc.lua), 13 due ZSET, 14 health HASH,
--       15 health stats HASH
-- ARGV: 1 HSCAN cursor, 2 page size (1..10000), 3 spread ms,
--       4 random offset 0..999
-- Returns: the next cursor (integer, 0 = pass complete)
-- Errors: NO_SUCH_POOL, BAD_ARGUMENT
-- @include health
local conf, err = pool_conf(false)
if not conf then return err end
local count, e = arg_range(ARGV[2], 'count', 1, 10000)
if not count then return bad(e) end
local spread
spread, e = arg_ms(ARGV[3], 'spread')
if not spread then return bad(e) end
local off
off, e = arg_range(ARGV[4], 'offset', 0, 999)
if not off then return bad(e) end
if not tonumber(ARGV[1]) then return bad('cursor is not a number') end
local r = redis.call('HSCAN', KEYS[2], ARGV[1], 'COUNT', count)
local now = now_ms()
local args = { 'NX' }
local kv = r[2]
for i = 1, #kv, 2 do
	local pos = (off + (i - 1) * 309) % 1000
	args[#args + 1] = now + math.floor(spread * pos / 1000)
	args[#args + 1] = kv[i]
end
if #args > 1 then
	redis.call('ZADD', KEYS[13], unpack(args))
end
return tonumber(r[1])
