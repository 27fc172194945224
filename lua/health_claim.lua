-- health_claim.lua: claim the pool's due health checks.  Due entries are
-- popped and rescheduled lease ms ahead in the same step, so concurrent
-- claimers (several proxypoold on one Redis) never get the same check;
-- if a claimer dies, its checks are due again when the lease passes.
-- The report script sets the real next due time.  Entries whose item left
-- the pool are dropped with their health state.
--
-- KEYS: the 12 pool keys (see lib/alloc.lua), 13 due ZSET (item -> next
--       probe ms), 14 health HASH (item -> state), 15 health stats HASH
-- ARGV: 1 max checks to claim (1..10000), 2 lease ms
-- Returns: the claimed items (array, possibly empty)
-- Errors: BAD_ARGUMENT
-- @include health
local count, e = arg_range(ARGV[1], 'count', 1, 10000)
if not count then return bad(e) end
local lease
lease, e = arg_ms(ARGV[2], 'lease')
if not lease then return bad(e) end
if redis.call('EXISTS', KEYS[1]) == 0 then
	-- the pool is gone: so is its health state
	redis.call('UNLINK', KEYS[13], KEYS[14], KEYS[15])
	return {}
end
local now = now_ms()
local due = redis.call('ZRANGEBYSCORE', KEYS[13], '-inf', now,
    'LIMIT', 0, count)
local out = {}
local args = {}
for i = 1, #due do
	local item = due[i]
	if redis.call('HEXISTS', KEYS[2], item) == 1 then
		out[#out + 1] = item
		args[#args + 1] = now + lease
		args[#args + 1] = item
	else
		hstate_drop(item)
	end
end
if #args > 0 then
	redis.call('ZADD', KEYS[13], unpack(args))
end
return out
