-- health.lua: health check helpers (lua/health_*.lua), included with
-- "-- @include health"; needs the allocator helpers.
-- @include alloc
--
-- Those scripts take the 12 pool keys (lua/lib/alloc.lua) and three more:
--   KEYS[13] due     ZSET  item -> next active check (ms)
--   KEYS[14] health  HASH  item -> st,ok,ko,since,ej,ejt,err
--                          (st: n unknown, u up, d down; ok/ko:
--                          consecutive successes/failures; since: ms
--                          of the last state change; ej/ejt: ejection
--                          count last seen and when, for its decay;
--                          err: last error reason, may hold commas)
--   KEYS[15] hstats  HASH  up, down (items per state), probes (results
--                          recorded), e:<reason> -> count

local HEALTH_REASONS = 16	-- distinct error reasons counted per pool

local function hstate_get(item)
	local s = redis.call('HGET', KEYS[14], item)
	local h = { st = 'n', ok = 0, ko = 0, since = 0, ej = 0, ejt = 0,
	    err = '' }
	if not s then
		return h
	end
	local f = {}
	local pos = 1
	for i = 1, 6 do
		local c = string.find(s, ',', pos, true)
		if not c then
			f[i] = string.sub(s, pos)
			pos = #s + 2
			break
		end
		f[i] = string.sub(s, pos, c - 1)
		pos = c + 1
	end
	h.st = f[1] or 'n'
	h.ok = tonumber(f[2]) or 0
	h.ko = tonumber(f[3]) or 0
	h.since = tonumber(f[4]) or 0
	h.ej = tonumber(f[5]) or 0
	h.ejt = tonumber(f[6]) or 0
	h.err = string.sub(s, pos)
	return h
end

local function hstate_num(st)
	if st == 'u' then
		return 1
	elseif st == 'd' then
		return 2
	end
	return 0
end

-- Keep the per-state counts of KEYS[15] in step with one item's change.
local function hstate_count(from, to)
	if from == to then
		return
	end
	if from == 'u' then
		redis.call('HINCRBY', KEYS[15], 'up', -1)
	elseif from == 'd' then
		redis.call('HINCRBY', KEYS[15], 'down', -1)
	end
	if to == 'u' then
		redis.call('HINCRBY', KEYS[15], 'up', 1)
	elseif to == 'd' then
		redis.call('HINCRBY', KEYS[15], 'down', 1)
	end
end

local function hstate_save(item, h, prev)
	redis.call('HSET', KEYS[14], item, table.concat({ h.st, h.ok, h.ko,
	    h.since, h.ej, h.ejt, h.err }, ','))
	hstate_count(prev, h.st)
end

-- Forget an item's health state (it left the pool).
local function hstate_drop(item)
	local s = redis.call('HGET', KEYS[14], item)
	if s then
		hstate_count(string.sub(s, 1, 1), 'n')
		redis.call('HDEL', KEYS[14], item)
	end
	redis.call('ZREM', KEYS[13], item)
end

-- Count an error reason (digits folded so ports and times group).
local function hstate_count_error(reason)
	local f = 'e:' .. string.sub(string.gsub(reason, '%d+', '#'), 1, 80)
	if redis.call('HEXISTS', KEYS[15], f) == 1 or
	    (tonumber(redis.call('HGET', KEYS[15], 'nerr')) or 0) <
	    HEALTH_REASONS then
		if redis.call('HINCRBY', KEYS[15], f, 1) == 1 then
			redis.call('HINCRBY', KEYS[15], 'nerr', 1)
		end
	end
end

-- Put a free or shareable item back in its ZSET with its current class,
-- keeping its place (sequence) within the class.
local function rescore(item, m)
	local key, unit
	if m.st == 'f' then
		key, unit = KEYS[3], 4294967296
	elseif m.st == 's' then
		key, unit = KEYS[4], 4294967296
	else
		return
	end
	local sc = redis.call('ZSCORE', key, item)
	if not sc then
		return
	end
	local low = tonumber(sc) % unit
	redis.call('ZADD', key, item_class(m) * unit + low, item)
end
