-- health_report.lua: record active health check results, atomically:
-- rise/fall state (HAProxy model), latency average and its priority
-- sub-class, quarantine while DOWN, the early end of an ejection after a
-- success (if asked), the slow decay of the ejection count while healthy,
-- eviction after evict_after DOWN, and the next due time (inter while
-- stable, fastinter while changing, downinter while DOWN, with jitter).
-- Several results of one pool go in one call (the prober batches them).
--
-- KEYS: the 12 pool keys (see lib/alloc.lua), 13 due ZSET, 14 health HASH,
--       15 health stats HASH
-- ARGV: 1 rise, 2 fall, 3 inter ms, 4 fastinter ms, 5 downinter ms,
--       6 jitter per mille (0..500), 7 latency step ms (0 = latency does
--       not rank), 8 evict_after ms (0 = never), 9 end quarantine on
--       success (0/1), then per result (1..HEALTH_BATCH of them) 6 values:
--       item, verdict (UP, WARN, DOWN, UNKNOWN), latency ms (< 0 =
--       unknown), reason (may be empty), random per mille (0..999), ms
--       since the probe started (the interval runs from its start)
-- Returns: per result { state, prev, successes, failures, latency ms * 10,
--   latency class, next due ms, evicted, unquarantined, gone } with states
--   0 unknown, 1 up, 2 down
-- Errors: NO_SUCH_POOL, BAD_ARGUMENT (nothing changed)
-- @include health
local HEALTH_BATCH = 100
local conf, err = pool_conf(false)
if not conf then return err end
local p = {}
local spec = {
	{ 'rise', 1, 1000 }, { 'fall', 1, 1000 }, { 'inter', 1, MS_MAX },
	{ 'fastinter', 1, MS_MAX }, { 'downinter', 1, MS_MAX },
	{ 'jitter', 0, 500 }, { 'latency step', 0, 3600000 },
	{ 'evict_after', 0, MS_MAX }, { 'end quarantine', 0, 1 }
}
local e
for i = 1, #spec do
	local n
	n, e = arg_range(ARGV[i], spec[i][1], spec[i][2], spec[i][3])
	if not n then return bad(e) end
	p[i] = n
end
local rise, fall, inter, fastinter, downinter = p[1], p[2], p[3], p[4], p[5]
local jitter, step, evict, endq = p[6], p[7], p[8], p[9]
local nres = (#ARGV - #spec) / 6
if nres < 1 or nres > HEALTH_BATCH or nres ~= math.floor(nres) then
	return bad('expected 1 to ' .. HEALTH_BATCH .. ' results of 6 values')
end
-- validate every result before changing anything
for i = 0, nres - 1 do
	local b = #spec + i * 6
	e = bad_key(ARGV[b + 1], 'item')
	if e then return bad(e) end
	local v = ARGV[b + 2]
	if v ~= 'UP' and v ~= 'WARN' and v ~= 'DOWN' and v ~= 'UNKNOWN' then
		return bad('verdict must be UP, WARN, DOWN or UNKNOWN')
	end
	local lat = tonumber(ARGV[b + 3])
	if lat == nil or lat ~= lat or lat > 86400000 then
		return bad('latency must be a number of ms (< 0: unknown)')
	end
	local r
	r, e = arg_range(ARGV[b + 5], 'random', 0, 999)
	if not r then return bad(e) end
	r, e = arg_range(ARGV[b + 6], 'elapsed', 0, MS_MAX)
	if not r then return bad(e) end
end

local now = now_ms()
redis.call('HINCRBY', KEYS[15], 'probes', nres)
if step ~= lat_step then	-- read by pool_conf
	redis.call('HSET', KEYS[1], 'lat_step', step)
	lat_step = step
end

-- next due times, set in one ZADD at the end
local due = {}

-- Record one result; returns its answer.
local function record(item, verdict, lat, reason, rnd, elapsed)
	local m = item_get(item)
	if not m then
		-- removed meanwhile: forget it
		redis.call('ZREM', KEYS[13], item)
		hstate_drop(item)
		return { 0, 0, 0, 0, 0, 0, 0, 0, 0, 1 }
	end
	local h = hstate_get(item)
	local prev = h.st

	local ok = verdict == 'UP' or verdict == 'WARN'
	local class_before = lat_class(m)
	if ok then
		h.ok = h.ok + 1
		h.ko = 0
		if lat >= 0 then
			if m.lat == 0 then
				m.lat = lat
			else
				m.lat = m.lat * 0.7 + lat * 0.3
			end
			m.lat = math.max(0.1, math.floor(m.lat * 10 + 0.5) / 10)
		end
		if h.st ~= 'u' and h.ok >= rise then
			h.st = 'u'
			h.since = now
		end
	elseif verdict == 'DOWN' then
		h.ko = h.ko + 1
		h.ok = 0
		if h.st ~= 'd' and h.ko >= fall then
			h.st = 'd'
			h.since = now
		end
	end
	if verdict ~= 'UP' and reason ~= '' then
		h.err = reason
		hstate_count_error(reason)
	end

	-- effects on the allocator's state
	local unq = 0
	if h.st == 'd' and m.st ~= 'd' then
		if evict > 0 and now - h.since >= evict then
			item_remove(item, conf)
			redis.call('ZREM', KEYS[13], item)
			hstate_drop(item)
			return { 2, hstate_num(prev), h.ok, h.ko, 0, 0, 0, 1, 0, 0 }
		end
		if m.st ~= 'q' or m.untl < now + MS_MAX / 2 then
			-- DOWN: out of service until it is UP again
			quarantine(item, m, now + MS_MAX, conf)
		end
	elseif prev == 'd' and h.st ~= 'd' and m.st == 'q' and
	    m.untl >= now + MS_MAX / 2 - 86400000 then
		-- no longer DOWN: back in service (a passive ejection ends too)
		unquarantine(item, m, now, conf)
		m = item_get(item)
	elseif ok and h.st == 'u' and m.st == 'q' and endq == 1 then
		unquarantine(item, m, now, conf)
		m = item_get(item)
		unq = 1
	end
	if m then
		-- a healthy interval (eject base time without a new ejection) lowers
		-- the ejection count again
		if ok and h.st == 'u' and m.st ~= 'q' and m.ej > 0 then
			if h.ej ~= m.ej then
				h.ej = m.ej
				h.ejt = now
			elseif now - h.ejt >= math.max(eject_conf(conf).eb, 1) then
				m.ej = m.ej - 1
				h.ej = m.ej
				h.ejt = now
			end
		end
		item_save(item, m)
		if lat_class(m) ~= class_before then
			rescore(item, m)
		end
	end

	local base = inter
	if h.st == 'd' and h.ok == 0 then
		base = downinter
	elseif h.st == 'n' or (h.st == 'u' and h.ko > 0) or
	    (h.st == 'd' and h.ok > 0) then
		base = fastinter
	end
	-- from the start of this probe, but never sooner than half an
	-- interval from now (a probe that took longer than the interval)
	local wait = math.max(1, math.floor(base *
	    (1 + jitter * (2 * rnd - 999) / 999000)))
	local nxt = now + math.max(wait - elapsed, math.floor(wait / 2))
	due[#due + 1] = nxt
	due[#due + 1] = item
	hstate_save(item, h, prev)
	return { hstate_num(h.st), hstate_num(prev), h.ok, h.ko,
	    math.floor((m and m.lat or 0) * 10), m and lat_class(m) or 0, nxt,
	    0, unq, 0 }
end

local out = {}
for i = 0, nres - 1 do
	local b = #spec + i * 6
	out[#out + 1] = record(ARGV[b + 1], ARGV[b + 2], tonumber(ARGV[b + 3]),
	    string.sub(ARGV[b + 4] or '', 1, 200), tonumber(ARGV[b + 5]),
	    tonumber(ARGV[b + 6]))
end
if #due > 0 then
	redis.call('ZADD', KEYS[13], unpack(due))
end
return out
