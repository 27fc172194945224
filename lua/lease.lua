-- lease.lua: leasing an item, renewing and releasing a lease.

-- Can item m take one more holder in this mode?
local function available(m, now, shared, conf)
	if expired(m, now) then
		return false
	end
	if m.st == 'f' then
		return true
	end
	return shared == 1 and m.st == 's' and
	    (conf.max == 0 or m.h < conf.max)
end

-- The best candidate of the free (KEYS[3]) or shared (KEYS[4]) ZSET,
-- skipping (and fixing) expired items and full shared ones; at most a
-- few tries.  With pop (an exclusive lease: the free ZSET is the only
-- source) the candidate is taken out of the ZSET at once, and its state
-- is left as '-' so st_leave skips it.  Returns the item, its metadata
-- and its score (to put it back).
local function best(k, pop, now, conf)
	local key = KEYS[k]
	for _ = 1, 8 do
		local c
		if pop then
			c = redis.call('ZPOPMIN', key)
		else
			c = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')
		end
		if #c == 0 then
			return nil
		end
		local cm = item_get(c[1])
		if not cm then
			if not pop then
				redis.call('ZREM', key, c[1])
			end
		elseif expired(cm, now) then
			item_expire(c[1], now, conf)
			if not pop then
				redis.call('ZREM', key, c[1])
			end
		elseif k == 4 and conf.max > 0 and cm.h >= conf.max then
			redis.call('ZREM', key, c[1])
		else
			if pop then
				cm.st = '-'
			end
			return c[1], cm, c[2]
		end
	end
	return nil
end

-- lease: lease an item.  First reclaims a bounded batch of expired
-- leases, bindings, items and ended quarantines, so nothing depends on a
-- gc call.  Exclusive: the free item of the best class, least recently
-- used first.  Shared: best class, then fewest holders, then least
-- recently used, among free items and shared ones under max_shares.
-- With a name: the item bound to it when available and healthy, else
-- another one, and the name is (re)bound to what was leased.
--
-- KEYS: the 12 pool keys (see item.lua)
-- ARGV: 1 token (random, from the client), 2 lease ttl ms (-1 = pool's),
--       3 shared (-1 = pool's, 0, 1), 4 binding name ("" = none),
--       5 binding ttl ms (-1 = pool's, 0 = forever), 6 holder ("" = none),
--       7 reclaim batch
-- Returns: { item, lease expiry ms, fence, shared 0/1, bound 0/1, token }
-- Errors: NO_SUCH_POOL, EMPTY (nothing to lease), BAD_ARGUMENT
--
-- lease_one, renew_one and release_one do the work of a call with its
-- ARGV at ARGV[b + 1...], for the function of their name and for batch;
-- each returns the function's reply (an error reply included).
local function lease_one(b, now, conf)
	if CALL.deleted then
		return fail('NO_SUCH_POOL', 'pool is being deleted')
	end
	local token = ARGV[b + 1]
	if #token < 16 or #token > 64 or not string.find(token, '^%x+$') then
		return bad('token must be 16 to 64 hex digits')
	end
	local ttl, bttl, e
	ttl, e = arg_ms(ARGV[b + 2], 'lease ttl', true)
	if not ttl then return bad(e) end
	if ttl == -1 then ttl = conf.lease_ttl end
	if ttl == 0 then return bad('lease ttl must be positive') end
	local shared = ARGV[b + 3]
	if shared == '-1' then
		shared = conf.shared
	elseif shared == '0' or shared == '1' then
		shared = shared == '1' and 1 or 0
	else
		return bad('shared must be an integer from -1 to 1')
	end
	local name = ARGV[b + 4]
	if name ~= '' then
		e = bad_key(name, 'binding name')
		if e then return bad(e) end
	end
	bttl, e = arg_ms(ARGV[b + 5], 'binding ttl', true)
	if not bttl then return bad(e) end
	if bttl == -1 then bttl = conf.bind_ttl end
	local holder = ARGV[b + 6]
	if holder ~= '' and (#holder > KEY_MAX or
	    string.find(holder, SEP, 1, true)) then
		return bad('holder over ' .. KEY_MAX .. ' bytes or with a NUL byte')
	end
	local batch
	batch, e = arg_range(ARGV[b + 7], 'reclaim batch', 0, 100000)
	if not batch then return bad(e) end

	-- once per call: a batch of leases reclaims as much as one lease
	if batch > 0 and not CALL.reclaimed then
		CALL.reclaimed = true
		reclaim(now, batch, conf)
	end

	local item, m, score
	local bound = 0
	if name ~= '' then
		local bi = redis.call('HGET', KEYS[8], name)
		if bi then
			local bexp = redis.call('ZSCORE', KEYS[9], name)
			if bexp and tonumber(bexp) <= now then
				unbind(name)
			else
				local bm = item_get(bi)
				if bm and available(bm, now, shared, conf) then
					item, m, bound = bi, bm, 1
				end
			end
		end
	end
	if not item then
		item, m, score = best(3, shared ~= 1, now, conf)
		if shared == 1 then
			local si, sm = best(4, false, now, conf)
			if si and (not item or item_class(sm) < item_class(m)) then
				item, m, score = si, sm, nil
			end
		end
	end
	if not item then
		return fail('EMPTY', 'no item available')
	end

	-- the lease record first: ZADD NX refuses a token in use, and a
	-- popped item goes back where it was
	local exp = now + ttl
	if redis.call('ZADD', KEYS[5], 'NX', exp, token) == 0 then
		if m.st == '-' then
			redis.call('ZADD', KEYS[3], score, item)
		end
		return bad('token already in use')
	end
	st_leave(item, m)
	m.h = m.h + 1
	m.sh = shared
	st_enter(item, m, shared == 1 and 's' or 'l', conf)
	item_save(item, m)
	local fence = next_fence(KEYS[12], now)
	due_at(exp, conf)
	redis.call('HSET', KEYS[6], token, lease_record(exp, item, holder))
	if name ~= '' then
		bind_set(name, item, bttl, now, conf)
	end
	return { item, exp, fence, shared, bound, token }
end

register('lease', WRITE, function()
	local conf, err = pool_conf(false)	-- (lease_one refuses a deleted pool)
	if not conf then return err end
	return lease_one(0, now_ms(), conf)
end)

-- The record of token's lease if it is live, else nil and the
-- NOT_OWNED error: none, or expired (then reclaimed now).
local function live(token, now, conf)
	local v = redis.call('HGET', KEYS[6], token)
	if not v then
		return nil, fail('NOT_OWNED', 'no such lease (stale token)')
	end
	local item, exp = lease_item(v)
	if exp <= now then
		lease_end(token, 'NONE', -1, now, conf, v)
		return nil, fail('NOT_OWNED', 'the lease expired')
	end
	return v, item
end

-- renew: extend a lease to now + ttl.
--
-- KEYS: the 12 pool keys (see item.lua)
-- ARGV: 1 token, 2 ttl ms (-1 = the pool's lease ttl)
-- Returns: the new lease expiry (ms).
-- Errors: NOT_OWNED (no such lease, or it expired: nothing changes but
--   the expired lease being reclaimed), NO_SUCH_POOL, BAD_ARGUMENT
local function renew_one(b, now, conf)
	local ttl, e = arg_ms(ARGV[b + 2], 'lease ttl', true)
	if not ttl then return bad(e) end
	if ttl == -1 then ttl = conf.lease_ttl end
	if ttl == 0 then return bad('lease ttl must be positive') end
	local token = ARGV[b + 1]
	local v, err = live(token, now, conf)
	if not v then return err end
	local exp = now + ttl
	redis.call('ZADD', KEYS[5], exp, token)
	redis.call('HSET', KEYS[6], token, struct.pack('<d', exp) ..
	    string.sub(v, 9))
	due_at(exp, conf)
	return exp
end

register('renew', WRITE, function()
	local conf, err = pool_conf(false)
	if not conf then return err end
	return renew_one(0, now_ms(), conf)
end)

-- release: end a lease with the item's outcome.  OK resets the
-- failure count; FAILED counts one, past eject_failures the item is
-- quarantined for eject_base * n (n ejections in a row, capped at
-- eject_max) unless eject_max_percent of the pool is quarantined already;
-- BANNED quarantines it for ban_time.  A quarantined item stays so; a
-- removed (draining) or expired item leaves with its last holder.
--
-- KEYS: the 12 pool keys (see item.lua)
-- ARGV: 1 token, 2 outcome (NONE, OK, FAILED, BANNED), 3 latency ms
--       (< 0 = unknown)
-- Returns: 1, or when the outcome ejected or banned the item, the end of
--   the quarantine it earned (ms) and the item: { until, item }
-- Errors: NOT_OWNED (no such lease, or it expired), NO_SUCH_POOL,
--   BAD_ARGUMENT
local function release_one(b, now, conf)
	local outcome, lat, e = arg_outcome(ARGV[b + 2], ARGV[b + 3])
	if not outcome then return bad(e) end
	local token = ARGV[b + 1]
	local v, err = live(token, now, conf)
	if not v then return err end
	local _, untl, item = lease_end(token, outcome, lat, now, conf, v)
	if untl then
		return { untl, item }
	end
	return 1
end

register('release', WRITE, function()
	local conf, err = pool_conf(false)
	if not conf then return err end
	return release_one(0, now_ms(), conf)
end)

-- The operations batch takes: code -> { work, ARGV count }.
local BATCH_OPS = {
	lease = { lease_one, 7 }, renew = { renew_one, 2 },
	release = { release_one, 3 }
}
local BATCH_MAX = 64		-- operations per call

-- batch: several leases, renewals and releases of one pool in one call
-- (what proxypoold sends for the requests of one pass of its event
-- loop): each as its function does it, in order, at one Redis time, with
-- one read of the pool's settings and one reclaim for all the leases.
-- One operation's error does not stop the others.
--
-- KEYS: the 12 pool keys (see item.lua)
-- ARGV: 1..BATCH_MAX operations, each its code (lease, renew, release)
--       followed by the ARGV of the function of that name
-- Returns: one reply per operation, in order: the function's reply or
--   its error reply
-- Errors: NO_SUCH_POOL (for all), BAD_ARGUMENT (a malformed list:
--   nothing done)
register('batch', WRITE, function()
	local ops, b = {}, 0
	while b < #ARGV do
		local op = BATCH_OPS[ARGV[b + 1]]
		if not op or b + 1 + op[2] > #ARGV then
			return bad('operation ' .. (#ops + 1) .. ' is not lease, ' ..
			    'renew or release with its arguments')
		end
		ops[#ops + 1] = b + 1
		b = b + 1 + op[2]
	end
	if #ops < 1 or #ops > BATCH_MAX then
		return bad('expected 1 to ' .. BATCH_MAX .. ' operations')
	end
	local conf, err = pool_conf(false)
	if not conf then return err end
	local now = now_ms()
	local out = {}
	for i = 1, #ops do
		b = ops[i]
		out[i] = BATCH_OPS[ARGV[b]][1](b, now, conf)
	end
	return out
end)
