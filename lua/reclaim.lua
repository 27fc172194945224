-- reclaim.lua: expired leases, bindings and items, and ended
-- quarantines, reclaimed in bounded batches inside the lease path and by
-- the periodic sweep, so nothing depends on anyone calling gc.

-- The ZSETs of times reclaim looks at, in its order: leases, bindings,
-- items, quarantines.
local DUE_KEYS = { 5, 9, 11, 7 }
local DUE_NEVER = 9000000000000000	-- rdue when nothing is pending

-- Reclaim up to n expired leases, bindings, items and ended quarantines,
-- and no more than the time budget allows (checked every 4 items).
-- The meta field rdue, when set, is a time before which none of them is
-- due: reclaim sets it to the earliest time left in the four ZSETs and
-- every script adding a time lowers it (due_at), so until then this costs
-- no call at all.  Past it, one ZRANGE per ZSET reads its head, and only
-- a ZSET whose head is due is scanned (then looked at again next call).
-- Returns the four counts and a fifth value, 1 when the budget ran out
-- with more due (the caller should call again at once), else 0.
local function reclaim(now, n, conf)
	local c = { 0, 0, 0, 0, 0 }
	local stored = CALL.rdue
	if stored and now < stored then
		return c
	end
	CALL.rdue = DUE_NEVER	-- due_at lowers it if we add a time
	local nxt = DUE_NEVER
	for k = 1, 4 do
		local h = redis.call('ZRANGE', KEYS[DUE_KEYS[k]], 0, 0, 'WITHSCORES')
		local t = tonumber(h[2])
		if t and t > now then
			nxt = math.min(nxt, t)
		elseif t and c[5] == 1 then
			nxt = now	-- due, left for the next call
		elseif t then
			local v = redis.call('ZRANGEBYSCORE', KEYS[DUE_KEYS[k]], '-inf',
			    now, 'LIMIT', 0, n)
			local done = #v
			for i = 1, #v do
				if i % 4 == 0 and spent_us() >= BUDGET_US then
					done = i - 1
					c[5] = 1
					break
				end
				if k == 1 then
					lease_end(v[i], 'NONE', -1, now, conf)
				elseif k == 2 then
					unbind(v[i])
				elseif k == 3 then
					item_expire(v[i], now, conf)
				else
					local m = item_get(v[i])
					if m then
						unquarantine(v[i], m, now, conf)
					else
						redis.call('ZREM', KEYS[7], v[i])
					end
				end
			end
			c[k] = done
			nxt = now
		end
	end
	nxt = math.min(nxt, CALL.rdue)
	CALL.rdue = nxt
	if nxt ~= stored then
		redis.call('HSET', KEYS[1], 'rdue', nxt)
	end
	return c
end

-- gc: reclaim up to count expired leases, expired bindings, expired
-- items and ended quarantines (the lease path does a small batch of
-- this on every call; this is the periodic sweep).
--
-- KEYS: the 12 pool keys (see item.lua)
-- ARGV: 1 count
-- Returns: { leases, bindings, items, quarantine } reclaimed, then 1 when
--   the time budget ran out with more due (call again), else 0
-- Errors: NO_SUCH_POOL, BAD_ARGUMENT
register('gc', WRITE, function()
	local conf, err = pool_conf(false)
	if not conf then return err end
	local count, e = arg_range(ARGV[1], 'count', 1, 100000)
	if not count then return bad(e) end
	return reclaim(now_ms(), count, conf)
end)

-- counts: items per state, O(1) (after reclaiming a small batch of
-- expired leases, bindings, items and quarantines).
--
-- KEYS: the 12 pool keys (see item.lua)
-- ARGV: 1 reclaim batch
-- Returns: { total, free, leased, shared, quarantined, draining, leases,
--   bindings }
-- Errors: NO_SUCH_POOL, BAD_ARGUMENT
register('counts', WRITE, function()
	local conf, err = pool_conf(false)
	if not conf then return err end
	local batch, e = arg_range(ARGV[1], 'reclaim batch', 0, 100000)
	if not batch then return bad(e) end
	if batch > 0 then
		reclaim(now_ms(), batch, conf)	-- what is left, gc does
		if CALL.deleted and redis.call('EXISTS', KEYS[1]) == 0 then
			return fail('NO_SUCH_POOL', 'no such pool')
		end
	end
	local c = state_counts()
	c[7] = redis.call('ZCARD', KEYS[5])
	c[8] = redis.call('HLEN', KEYS[8])
	return c
end)
