-- release.lua: end a lease with the item's outcome.  OK resets the
-- failure count; FAILED counts one, past eject_failures the item is
-- quarantined for eject_base * n (n ejections in a row, capped at
-- eject_max) unless eject_max_percent of the pool is quarantined already;
-- BANNED quarantines it for ban_time.  A quarantined item stays so; a
-- removed (draining) or expired item leaves with its last holder.
--
-- KEYS: the 12 pool keys (see lib/alloc.lua)
-- ARGV: 1 token, 2 outcome (NONE, OK, FAILED, BANNED), 3 latency ms
--       (< 0 = unknown)
-- Returns: 1
-- Errors: NOT_OWNED (no such lease, or it expired), NO_SUCH_POOL,
--   BAD_ARGUMENT
-- @include alloc
local conf, err = pool_conf(false)
if not conf then return err end
local outcome, lat, e = arg_outcome(ARGV[2], ARGV[3])
if not outcome then return bad(e) end
local token = ARGV[1]
local now = now_ms()
local cur = redis.call('ZSCORE', KEYS[5], token)
if not cur then
	return fail('NOT_OWNED', 'no such lease (stale token)')
end
if tonumber(cur) <= now then
	lease_end(token, 'NONE', -1, now, conf)
	return fail('NOT_OWNED', 'the lease expired')
end
if not lease_end(token, outcome, lat, now, conf) then
	return fail('NOT_OWNED', 'no such lease (stale token)')
end
return 1
