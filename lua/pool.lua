-- pool.lua: pools: create, read, delete (by draining), list, and the
-- invariant check over a whole pool.

-- pool_create: create a pool or update its settings (items are kept);
-- brings back a pool that is being deleted.
--
-- KEYS: the 12 pool keys (see item.lua), 13: the registry SET of pools
-- ARGV: 1 pool name, 2 shared (0/1), 3 max_shares (0 = unlimited),
--       4 lease_ttl ms (> 0), 5 bind_ttl ms (0 = forever),
--       6 eject_failures (0 = off), 7 eject_base ms, 8 eject_max ms,
--       9 eject_max_percent (0..100), 10 ban_time ms
-- Returns: 1 if the pool was created, 0 if updated.
-- Errors: BAD_ARGUMENT (nothing changed).
register('pool_create', WRITE, function()
	local e = bad_key(ARGV[1], 'pool name')
	if e then return bad(e) end
	local v = { SCHEMA }
	local spec = {
		{ 'shared', 0, 1 }, { 'max_shares', 0, 1000000 },
		{ 'lease_ttl', 1, MS_MAX }, { 'bind_ttl', 0, MS_MAX },
		{ 'eject_failures', 0, 1000000 }, { 'eject_base', 0, MS_MAX },
		{ 'eject_max', 0, MS_MAX }, { 'eject_max_percent', 0, 100 },
		{ 'ban_time', 0, MS_MAX }
	}
	for i = 1, #spec do
		local n, err = arg_range(ARGV[i + 1], spec[i][1], spec[i][2],
		    spec[i][3])
		if not n then return bad(err) end
		v[#v + 1] = n
	end
	local created = redis.call('EXISTS', KEYS[1]) == 0 and 1 or 0
	if created == 0 and not redis.call('HGET', KEYS[1], 'conf') then
		local _, e2 = pool_conf(false)	-- another schema's pool
		return e2
	end
	redis.call('HSET', KEYS[1], 'conf', struct.pack(CONF_FMT, unpack(v)),
	    'deleted', 0)
	redis.call('SADD', KEYS[13], ARGV[1])
	-- a smaller max_shares: items now full leave the shareable set lazily
	-- (they are skipped when chosen, see lease.lua)
	return created
end)

-- pool_get: a pool's settings.
--
-- KEYS: the 12 pool keys (see item.lua)
-- ARGV: none
-- Returns: { shared, max_shares, lease_ttl ms, bind_ttl ms,
--   eject_failures, eject_base ms, eject_max ms, eject_max_percent,
--   ban_time ms }
-- Errors: NO_SUCH_POOL
register('pool_get', READ, function()
	local conf, err = pool_conf(true)
	if not conf then return err end
	return { conf.shared, conf.max, conf.lease_ttl, conf.bind_ttl, conf.ef,
	    conf.eb, conf.emax, conf.pct, conf.ban }
end)

-- pool_delete: one step of deleting a pool.  The first step marks it
-- deleted (leases, adds fail with NO_SUCH_POOL from then on) and drops it
-- from the registry; every step removes one page of items (held ones
-- drain), up to count and as many as the time budget held last step
-- (page_size); when no item is left every key goes.
--
-- KEYS: the 12 pool keys (see item.lua), 13: the registry SET of pools,
--       14: the pool's events stream (events.lua), dropped at the first
--       step (optional)
-- ARGV: 1 pool name, 2 scan cursor ("0" first), 3 count, 4 first (1/0)
-- Returns: { next cursor ("0" = sweep done), items left (draining) }
-- Errors: NO_SUCH_POOL, BAD_ARGUMENT
register('pool_delete', WRITE, function()
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
		if KEYS[14] then
			redis.call('UNLINK', KEYS[14])
		end
	end
	CALL.deleted = true
	spent_us()		-- the step's cost is measured from here
	local r = redis.call('HSCAN', KEYS[2], ARGV[2], 'COUNT',
	    page_size(count))
	local v = r[2]
	for i = 1, #v, 2 do
		item_remove(v[i], conf, item_decode(v[i + 1]))
	end
	page_done(#v / 2)
	local left = redis.call('HLEN', KEYS[2])
	if r[1] == '0' and left == 0 then
		pool_drop()
	end
	return { r[1], left }
end)

-- pools: the names of all pools.
--
-- KEYS: 1 the registry SET of pools
-- ARGV: none
-- Returns: array of pool names (sorted).
register('pools', READ, function()
	local v = redis.call('SMEMBERS', KEYS[1])
	table.sort(v)
	return v
end)

-- check: one bounded step of the invariant check of a pool.  The
-- library calls it repeatedly, phase by phase, each phase a cursor scan
-- of one structure, and adds up the per-state counts to compare them
-- with the counters at the end.
--
-- KEYS: the 12 pool keys (see item.lua)
-- ARGV: 1 phase (1..11), 2 cursor ("0" starts a phase), 3 count
-- Returns: { next phase (0 = done), next cursor, { violation lines },
--   { free, leased, shared, quarantined, draining, holders } counted in
--   this step (phase 1), or at the end (phase 11) the stored counters
--   { total, free, leased, shared, quarantined, draining, leases,
--   lease records } }
-- Errors: NO_SUCH_POOL, BAD_ARGUMENT
register('check', READ, function()
	local conf, err = pool_conf(false)
	if not conf then return err end
	local phase = tonumber(ARGV[1])
	if not phase or phase < 1 or phase > 11 then
		return bad('phase must be 1 to 11')
	end
	local count, e = arg_range(ARGV[3], 'count', 1, 100000)
	if not count then return bad(e) end
	local out, stats = {}, { 0, 0, 0, 0, 0, 0 }

	local function v(msg)
		out[#out + 1] = msg
	end
	local function has(key, member)
		return redis.call('ZSCORE', key, member) ~= false
	end

	if phase == 11 then
		local c = state_counts()
		return { 0, '0', out, { c[1], c[2], c[3], c[4], c[5], c[6],
		    redis.call('ZCARD', KEYS[5]), redis.call('HLEN', KEYS[6]) } }
	end

	local scan = { 2, 6, 5, 3, 4, 7, 8, 9, 10, 11 }
	local key = KEYS[scan[phase]]
	local r
	if redis.call('TYPE', key).ok == 'hash' then
		r = redis.call('HSCAN', key, ARGV[2], 'COUNT', count)
	else
		r = redis.call('ZSCAN', key, ARGV[2], 'COUNT', count)
	end
	local t = r[2]
	local idx = { f = 1, l = 2, s = 3, q = 4, d = 5 }

	-- reclaim may leave due times behind a batch and set rdue to its
	-- now: only an rdue still ahead hides a due time
	local ahead = CALL.rdue and CALL.rdue > now_ms()

	for i = 1, #t, 2 do
		local k, val = t[i], t[i + 1]
		if (phase == 3 or phase == 6 or phase == 8 or phase == 10) and
		    ahead and tonumber(val) < CALL.rdue then
			v('due time ' .. k .. ': ' .. val .. ' before the rdue ' ..
			    string.format('%d', CALL.rdue) .. ' of the pool')
		end
		if phase == 1 then
			local m = item_decode(val)
			local inf, ins, inq = has(KEYS[3], k), has(KEYS[4], k),
			    has(KEYS[7], k)
			local n = (inf and 1 or 0) + (ins and 1 or 0) + (inq and 1 or 0)
			if not idx[m.st] then
				v('item ' .. k .. ': unknown state ' .. m.st)
			else
				stats[idx[m.st]] = stats[idx[m.st]] + 1
			end
			stats[6] = stats[6] + m.h
			if n > 1 then
				v('item ' .. k .. ': in two states (free ' ..
				    tostring(inf) .. ', shared ' .. tostring(ins) ..
				    ', quarantine ' .. tostring(inq) .. ')')
			end
			if m.st == 'f' and (not inf or m.h ~= 0) then
				v('item ' .. k .. ': lost (free but not in the free set' ..
				    ' or holders ' .. m.h .. ')')
			elseif m.st ~= 'f' and inf then
				v('item ' .. k .. ': in the free set but ' .. m.st)
			end
			if m.st == 'l' and (m.h ~= 1 or m.sh ~= 0) then
				v('item ' .. k .. ': leased with ' .. m.h .. ' holders')
			end
			if m.st == 's' then
				if m.h < 1 then
					v('item ' .. k .. ': shared without holders')
				end
				if not ins and (conf.max == 0 or m.h < conf.max) then
					v('item ' .. k .. ': lost (shareable but not in ' ..
					    'the shared set)')
				end
			elseif ins then
				v('item ' .. k .. ': in the shared set but ' .. m.st)
			end
			if (m.st == 'q') ~= inq then
				v('item ' .. k .. ': state ' .. m.st ..
				    ' disagrees with the quarantine set')
			end
			if m.st == 'd' and m.h < 1 then
				v('item ' .. k .. ': draining without holders')
			end
			if m.exp > 0 and m.st ~= 'd' and not has(KEYS[11], k) then
				v('item ' .. k .. ': expiry not scheduled')
			end
		elseif phase == 2 then
			if #val < 9 or not string.find(val, SEP, 9, true) then
				v('lease ' .. k .. ': a record of ' .. #val ..
				    ' bytes, not expiry, item, NUL, holder')
			else
				local item, exp = lease_item(val)
				local m = item_get(item)
				if not m then
					v('lease ' .. k .. ': item ' .. item .. ' missing')
				elseif m.h < 1 then
					v('lease ' .. k .. ': item ' .. item ..
					    ' has no holders')
				end
				local e = redis.call('ZSCORE', KEYS[5], k)
				if not e then
					v('lease ' .. k .. ': no expiry')
				elseif tonumber(e) ~= exp then
					v('lease ' .. k .. ': expiry ' ..
					    string.format('%d', exp) .. ' in the record, ' ..
					    e .. ' in the leases set')
				end
			end
		elseif phase == 3 then
			if redis.call('HEXISTS', KEYS[6], k) == 0 then
				v('lease ' .. k .. ': expiry without a lease')
			end
		elseif phase >= 4 and phase <= 6 then
			local want = ({ 'f', 's', 'q' })[phase - 3]
			local m = item_get(k)
			if not m then
				v('item ' .. k .. ': in the ' .. want ..
				    ' set but not in the pool')
			elseif m.st ~= want then
				v('item ' .. k .. ': in the ' .. want ..
				    ' set but state ' .. m.st)
			end
		elseif phase == 7 then
			if redis.call('HEXISTS', KEYS[2], val) == 0 then
				v('binding ' .. k .. ': missing item ' .. val)
			end
			if not has(KEYS[10], val .. SEP .. k) then
				v('binding ' .. k .. ': not in the reverse index')
			end
		elseif phase == 8 then
			if redis.call('HEXISTS', KEYS[8], k) == 0 then
				v('binding expiry ' .. k .. ': no binding')
			end
		elseif phase == 9 then
			local p = string.find(k, SEP, 1, true)
			local item = string.sub(k, 1, (p or #k + 1) - 1)
			local name = p and string.sub(k, p + 1) or ''
			if redis.call('HGET', KEYS[8], name) ~= item then
				v('reverse binding ' .. item .. ' -> ' .. name ..
				    ': no such binding')
			end
		elseif phase == 10 then
			local m = item_get(k)
			if not m then
				v('item expiry ' .. k .. ': not in the pool')
			elseif m.st == 'd' then
				v('item expiry ' .. k .. ': item is draining')
			end
		end
	end
	if r[1] == '0' then
		return { phase + 1, '0', out, stats }
	end
	return { phase, r[1], out, stats }
end)
