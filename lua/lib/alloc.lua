-- alloc.lua: allocator helpers (lua/pool_*.lua, items_*.lua, lease.lua...),
-- included with "-- @include alloc".
--
-- Every pool script takes the same KEYS, all under the hash tag
-- {prefix:pool}:
--   KEYS[1]  meta      HASH  pool settings and counters
--   KEYS[2]  items     HASH  item -> metadata (see item_get)
--   KEYS[3]  free      ZSET  free items, score class*2^32 + sequence
--   KEYS[4]  shared    ZSET  shareable held items, score class*2^36 +
--                            holders*2^26 + sequence (mod 2^26)
--   KEYS[5]  leases    ZSET  token -> lease expiry (ms)
--   KEYS[6]  lease     HASH  token -> item NUL holder NUL fence NUL shared
--   KEYS[7]  quarantine ZSET item -> end of quarantine (ms)
--   KEYS[8]  bind      HASH  name -> item
--   KEYS[9]  bindexp   ZSET  name -> binding expiry (ms); absent = forever
--   KEYS[10] bindrev   ZSET  item NUL name, score 0 (names per item, lex)
--   KEYS[11] itemexp   ZSET  item -> item expiry (ms)
--   KEYS[12] fence     STRING fencing counter, INCR on every grant
-- meta fields: shared max_shares lease_ttl bind_ttl eject_failures
-- eject_base eject_max eject_max_percent ban_time (times in ms), deleted,
-- seq (LRU sequence), gen (assign generation), nleased nshared ndrain
-- (items per state; free, quarantined come from ZCARD), lat_step (see
-- lat_class), rdue (see reclaim).
--
-- Item states: f free, l leased (exclusive), s shared, q quarantined,
-- d draining (removed, leaves when its last holder releases).

local PRIO_MIN, PRIO_MAX = -32768, 32767
local BIND_PER_ITEM = 256		-- names one item may carry

local LAT_CLASSES = 16
local lat_step		-- the pool's lat_step, read with its settings

-- Read the pool settings but the ejection ones (see eject_conf); nil and
-- an error reply when the pool does not exist (or, with live, is being
-- deleted).  Every field read costs, so the few calls that need the
-- ejection settings read them apart.
local function pool_conf(live)
	local c = redis.call('HMGET', KEYS[1], 'shared', 'max_shares',
	    'lease_ttl', 'bind_ttl', 'deleted', 'lat_step', 'rdue')
	lat_step = tonumber(c[6]) or 0
	if not c[3] then
		return nil, fail('NO_SUCH_POOL', 'no such pool')
	end
	if live and c[5] == '1' then
		return nil, fail('NO_SUCH_POOL', 'pool is being deleted')
	end
	return {
		shared = tonumber(c[1]), max = tonumber(c[2]),
		lease_ttl = tonumber(c[3]), bind_ttl = tonumber(c[4]),
		deleted = c[5] == '1', rdue = tonumber(c[7])
	}
end

-- Add the ejection settings to conf (once); returns conf.
local function eject_conf(conf)
	if conf.ef == nil then
		local c = redis.call('HMGET', KEYS[1], 'eject_failures',
		    'eject_base', 'eject_max', 'eject_max_percent', 'ban_time')
		conf.ef, conf.eb, conf.emax = tonumber(c[1]), tonumber(c[2]),
		    tonumber(c[3])
		conf.pct, conf.ban = tonumber(c[4]), tonumber(c[5])
	end
	return conf
end

-- A time was added to the leases, quarantine, bindexp or itemexp ZSET:
-- keep the meta field rdue at or below the earliest of them (see
-- reclaim).
local function due_at(t, conf)
	if conf.rdue and t < conf.rdue then
		conf.rdue = t
		redis.call('HSET', KEYS[1], 'rdue', t)
	end
end

-- Item metadata is a short comma separated string, trailing zero fields
-- dropped: prio,exp,state,holders,shared,failures,ejections,latency,
-- until,gen.
local function item_decode(s)
	local f = {}
	for v in string.gmatch(s .. ',', '([^,]*),') do
		f[#f + 1] = v
	end
	return {
		prio = tonumber(f[1]) or 0, exp = tonumber(f[2]) or 0,
		st = f[3] or 'f', h = tonumber(f[4]) or 0,
		sh = tonumber(f[5]) or 0, fail = tonumber(f[6]) or 0,
		ej = tonumber(f[7]) or 0, lat = tonumber(f[8]) or 0,
		untl = tonumber(f[9]) or 0, gen = tonumber(f[10]) or 0
	}
end

local function item_get(item)
	local s = redis.call('HGET', KEYS[2], item)
	if not s then
		return nil
	end
	return item_decode(s)
end

local function item_encode(m)
	local f = { m.prio, m.exp, m.st, m.h, m.sh, m.fail, m.ej, m.lat,
	    m.untl, m.gen }
	local n = 10
	while n > 3 and f[n] == 0 do
		n = n - 1
	end
	return table.concat(f, ',', 1, n)
end

local function item_save(item, m)
	redis.call('HSET', KEYS[2], item, item_encode(m))
end

local function expired(m, now)
	return m.exp > 0 and m.exp <= now
end

local function next_seq()
	return redis.call('HINCRBY', KEYS[1], 'seq', 1)
end

-- Priority class: the static priority first, then a latency sub-class
-- 0..LAT_CLASSES-1 (latency average / the pool's lat_step ms, set by the
-- health checks; 0 when unknown or when latency does not rank), so a
-- faster item is leased before a slower one of the same priority.
-- |class| < 2^19, so class * 2^32 + 2^32 stays exact in a double.
local function lat_class(m)
	if lat_step == nil then
		lat_step = tonumber(redis.call('HGET', KEYS[1], 'lat_step')) or 0
	end
	if lat_step <= 0 or m.lat <= 0 then
		return 0
	end
	return math.min(LAT_CLASSES - 1, math.floor(m.lat / lat_step))
end

local function item_class(m)
	return m.prio * LAT_CLASSES + lat_class(m)
end

local function free_score(m, seq)
	return item_class(m) * 4294967296 + seq % 4294967296
end

-- shared: class, then fewest holders, then least recently used
local function shared_score(m, seq)
	return item_class(m) * 4294967296 + math.min(m.h, 1023) * 4194304 +
	    seq % 4194304
end

-- Take an item out of the structures of its current state.
local function st_leave(item, m)
	local st = m.st
	if st == 'f' then
		redis.call('ZREM', KEYS[3], item)
	elseif st == 's' then
		redis.call('ZREM', KEYS[4], item)
		redis.call('HINCRBY', KEYS[1], 'nshared', -1)
	elseif st == 'l' then
		redis.call('HINCRBY', KEYS[1], 'nleased', -1)
	elseif st == 'q' then
		redis.call('ZREM', KEYS[7], item)
	elseif st == 'd' then
		redis.call('HINCRBY', KEYS[1], 'ndrain', -1)
	end
end

-- Put an item into the structures of state st (the caller saves m).
local function st_enter(item, m, st, conf)
	m.st = st
	if st == 'f' then
		m.h = 0
		m.sh = 0
		redis.call('ZADD', KEYS[3], free_score(m, next_seq()), item)
	elseif st == 's' then
		redis.call('HINCRBY', KEYS[1], 'nshared', 1)
		if conf.max == 0 or m.h < conf.max then
			redis.call('ZADD', KEYS[4],
			    shared_score(m, next_seq()), item)
		end
	elseif st == 'l' then
		redis.call('HINCRBY', KEYS[1], 'nleased', 1)
	elseif st == 'q' then
		redis.call('ZADD', KEYS[7], m.untl, item)
		due_at(m.untl, conf)
	elseif st == 'd' then
		redis.call('HINCRBY', KEYS[1], 'ndrain', 1)
	end
end

-- The state an item in service should be in, from its holders.
local function rest_state(m)
	if m.h == 0 then
		return 'f'
	elseif m.sh == 1 then
		return 's'
	end
	return 'l'
end

local function unbind(name)
	local item = redis.call('HGET', KEYS[8], name)
	if not item then
		return 0
	end
	redis.call('HDEL', KEYS[8], name)
	redis.call('ZREM', KEYS[9], name)
	redis.call('ZREM', KEYS[10], item .. SEP .. name)
	return 1
end

-- Names bound to item (at most BIND_PER_ITEM).
local function item_names(item)
	local v = redis.call('ZRANGEBYLEX', KEYS[10], '[' .. item .. SEP,
	    '(' .. item .. '\1', 'LIMIT', 0, BIND_PER_ITEM)
	local names = {}
	for i = 1, #v do
		names[i] = string.sub(v[i], #item + 2)
	end
	return names
end

-- Bind name to item for ttl ms (0 = forever).
local function bind_set(name, item, ttl, now, conf)
	local old = redis.call('HGET', KEYS[8], name)
	if old ~= item then
		if old then
			redis.call('ZREM', KEYS[10], old .. SEP .. name)
		end
		if redis.call('ZLEXCOUNT', KEYS[10], '[' .. item .. SEP,
		    '(' .. item .. '\1') >= BIND_PER_ITEM then
			unbind(item_names(item)[1])
		end
		redis.call('HSET', KEYS[8], name, item)
		redis.call('ZADD', KEYS[10], 0, item .. SEP .. name)
	end
	if ttl > 0 then
		redis.call('ZADD', KEYS[9], now + ttl, name)
		due_at(now + ttl, conf)
	else
		redis.call('ZREM', KEYS[9], name)
	end
end

-- Delete every key of a pool that finished draining after deletion.
local function pool_drop()
	for i = 1, 12 do
		redis.call('UNLINK', KEYS[i])
	end
end

-- Does the pool have any binding?  (Asked once per script call.)
local any_bindings

-- Remove an item for good (it has no holders).
local function item_delete(item, m, conf)
	st_leave(item, m)
	redis.call('HDEL', KEYS[2], item)
	if m.exp > 0 then
		redis.call('ZREM', KEYS[11], item)
	end
	if any_bindings == nil then
		any_bindings = redis.call('EXISTS', KEYS[10]) == 1
	end
	if any_bindings then
		local names = item_names(item)
		for i = 1, #names do
			unbind(names[i])
		end
	end
	if conf.deleted and redis.call('HLEN', KEYS[2]) == 0 then
		pool_drop()
	end
end

-- Remove an item: at once when nobody holds it, else drain it.  m is
-- its metadata when the caller has it already.  Returns 1 if it was in
-- the pool.
local function item_remove(item, conf, m)
	m = m or item_get(item)
	if not m or m.st == 'd' then
		return 0
	end
	if m.h == 0 then
		item_delete(item, m, conf)
	else
		st_leave(item, m)
		m.untl = 0
		st_enter(item, m, 'd', conf)
		if m.exp > 0 then
			redis.call('ZREM', KEYS[11], item)
		end
		item_save(item, m)
	end
	return 1
end

-- After holders changed: move the item to where it belongs.
local function settle(item, m, now, conf)
	if m.st == 'd' then
		if m.h == 0 then
			item_delete(item, m, conf)
		else
			item_save(item, m)
		end
		return
	end
	if m.st == 'q' then
		item_save(item, m)
		return
	end
	if m.h == 0 and expired(m, now) then
		item_delete(item, m, conf)
		return
	end
	st_leave(item, m)
	st_enter(item, m, rest_state(m), conf)
	item_save(item, m)
end

-- Quarantine an item until untl (ms); a longer one already running stays.
local function quarantine(item, m, untl, conf)
	if m.st == 'd' then
		return
	end
	if m.st == 'q' then
		if untl > m.untl then
			m.untl = untl
			redis.call('ZADD', KEYS[7], untl, item)
			due_at(untl, conf)
		end
	else
		st_leave(item, m)
		m.untl = untl
		st_enter(item, m, 'q', conf)
	end
	item_save(item, m)
end

-- End an item's quarantine now.
local function unquarantine(item, m, now, conf)
	st_leave(item, m)
	m.untl = 0
	m.st = 'x'
	if m.h == 0 and expired(m, now) then
		item_delete(item, m, conf)
		return
	end
	st_enter(item, m, rest_state(m), conf)
	item_save(item, m)
end

-- Apply an outcome (OK, FAILED, BANNED, NONE) and a latency (< 0 =
-- unknown) to m; returns the end of a quarantine it earns, or nil.
local function health(m, outcome, lat, now, conf)
	if lat >= 0 then
		if m.lat == 0 then
			m.lat = lat
		else
			m.lat = m.lat * 0.8 + lat * 0.2
		end
		m.lat = math.floor(m.lat * 10 + 0.5) / 10
	end
	if outcome == 'OK' then
		m.fail = 0
		m.ej = 0
	elseif outcome == 'FAILED' then
		m.fail = m.fail + 1
		eject_conf(conf)
		if conf.ef > 0 and m.fail >= conf.ef and m.st ~= 'q' and
		    m.st ~= 'd' then
			local total = redis.call('HLEN', KEYS[2]) -
			    (tonumber(redis.call('HGET', KEYS[1], 'ndrain')) or 0)
			local q = redis.call('ZCARD', KEYS[7])
			if (q + 1) * 100 <= conf.pct * total then
				m.ej = m.ej + 1
				m.fail = 0
				return now + math.min(conf.eb * m.ej, conf.emax)
			end
		end
	elseif outcome == 'BANNED' then
		m.fail = 0
		return now + eject_conf(conf).ban
	end
	return nil
end

-- Validate an outcome word and a latency argument.
local function arg_outcome(o, l)
	if o ~= 'NONE' and o ~= 'OK' and o ~= 'FAILED' and o ~= 'BANNED' then
		return nil, nil, 'outcome must be NONE, OK, FAILED or BANNED'
	end
	local lat = tonumber(l)
	if lat == nil or lat ~= lat or lat > 86400000 then
		return nil, nil, 'latency must be a number of ms (< 0: unknown)'
	end
	if lat < 0 then
		lat = -1
	end
	return o, lat
end

-- End a lease (release or expiry) with an outcome.  Returns false when
-- the token holds no lease.
local function lease_end(token, outcome, lat, now, conf)
	local v = redis.call('HGET', KEYS[6], token)
	if not v then
		redis.call('ZREM', KEYS[5], token)
		return false
	end
	redis.call('HDEL', KEYS[6], token)
	redis.call('ZREM', KEYS[5], token)
	local item = string.sub(v, 1, string.find(v, SEP, 1, true) - 1)
	local m = item_get(item)
	if not m then
		return true
	end
	if m.h > 0 then
		m.h = m.h - 1
	end
	local untl = health(m, outcome, lat, now, conf)
	if untl and m.st ~= 'd' and not (m.h == 0 and expired(m, now)) then
		quarantine(item, m, untl, conf)
		return true
	end
	settle(item, m, now, conf)
	return true
end

-- An item's own expiry passed: it leaves now or when released.
local function item_expire(item, now, conf)
	redis.call('ZREM', KEYS[11], item)
	local m = item_get(item)
	if m and m.st ~= 'd' then
		item_remove(item, conf)
	end
end

-- The ZSETs of times reclaim looks at, in its order: leases, bindings,
-- items, quarantines.
local DUE_KEYS = { KEYS[5], KEYS[9], KEYS[11], KEYS[7] }
local DUE_NEVER = 9000000000000000	-- rdue when nothing is pending

-- Reclaim up to n expired leases, bindings, items and ended quarantines.
-- The meta field rdue, when set, is a time before which none of them is
-- due: reclaim sets it to the earliest time left in the four ZSETs and
-- every script adding a time lowers it (due_at), so until then this costs
-- no call at all.  Past it, one ZRANGE per ZSET reads its head, and only
-- a ZSET whose head is due is scanned (then looked at again next call).
-- Returns the four counts.
local function reclaim(now, n, conf)
	local c = { 0, 0, 0, 0 }
	local stored = conf.rdue
	if stored and now < stored then
		return c
	end
	conf.rdue = DUE_NEVER	-- due_at lowers it if we add a time
	local nxt = DUE_NEVER
	for k = 1, 4 do
		local h = redis.call('ZRANGE', DUE_KEYS[k], 0, 0, 'WITHSCORES')
		local t = tonumber(h[2])
		if t and t > now then
			nxt = math.min(nxt, t)
		elseif t then
			local v = redis.call('ZRANGEBYSCORE', DUE_KEYS[k], '-inf',
			    now, 'LIMIT', 0, n)
			for i = 1, #v do
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
			c[k] = #v
			nxt = now
		end
	end
	nxt = math.min(nxt, conf.rdue)
	conf.rdue = nxt
	if nxt ~= stored then
		redis.call('HSET', KEYS[1], 'rdue', nxt)
	end
	return c
end
