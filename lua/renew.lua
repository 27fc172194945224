-- renew.lua: extend a lease to now + ttl.
--
-- KEYS: the 12 pool keys (see lib/alloc.lua)
-- ARGV: 1 token, 2 ttl ms (-1 = the pool's lease ttl)
-- Returns: the new lease expiry (ms).
-- Errors: NOT_OWNED (no such lease, or it expired: nothing changes but
--   the expired lease being reclaimed), NO_SUCH_POOL, BAD_ARGUMENT
-- @include alloc
local conf, err = pool_conf(false)
if not conf then return err end
local ttl, e = arg_ms(ARGV[2], 'lease ttl', true)
if not ttl then return bad(e) end
if ttl == -1 then ttl = conf.lease_ttl end
if ttl == 0 then return bad('lease ttl must be positive') end
local token = ARGV[1]
local now = now_ms()
local cur = redis.call('ZSCORE', KEYS[5], token)
if not cur or redis.call('HEXISTS', KEYS[6], token) == 0 then
	return fail('NOT_OWNED', 'no such lease (stale token)')
end
if tonumber(cur) <= now then
	lease_end(token, 'NONE', -1, now, conf)
	return fail('NOT_OWNED', 'the lease expired')
end
local exp = now + ttl
redis.call('ZADD', KEYS[5], exp, token)
due_at(exp, conf)
return exp
