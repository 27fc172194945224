-- health.lua: active health checks: due checks claimed across daemons,
-- results recorded in batches, the per-item health state and its counts.
--
-- Those functions take the 12 pool keys (item.lua) and four more:
--   KEYS[13] due     ZSET  item -> next active check (ms)
--   KEYS[14] health  HASH  item -> packed (struct, little endian):
--                          st c1 (n unknown, u up, d down), ok H, ko H
--                          (consecutive successes/failures, counted up
--                          to max(rise, fall), enough to decide, so the
--                          record of a stable item stops changing), ej
--                          I4, since d (ms of the last state change),
--                          ejt d (ej/ejt: ejection count last seen and
--                          when, for its decay), then the last error
--                          reason
--   KEYS[15] hstats  HASH  up, down (items per state), probes (results
--                          recorded), e:<reason> -> count
--   KEYS[16] hlast   HASH  item -> ms of its last result recorded while
--                          it is not UP (DOWN or unknown; an UP item's
--                          record is not written by every probe, so its
--                          entry goes when it is UP)

local HEALTH_REASONS = 16	-- distinct error reasons counted per pool

local HSTATE_FMT = '<c1HHI4dd'
local HSTATE_LEN = 25		-- bytes before the reason
local HSTATES = { n = true, u = true, d = true }

-- A health record read (nil: none yet), as a table hstate_save takes.
local function hstate_decode(s)
	local st, ok, ko, ej, since, ejt
	if s and #s >= HSTATE_LEN then
		st, ok, ko, ej, since, ejt = struct.unpack(HSTATE_FMT, s)
	end
	if not HSTATES[st] then		-- none, or not written by this version
		return { st = 'n', ok = 0, ko = 0, since = 0, ej = 0, ejt = 0,
		    err = '' }
	end
	local err = #s > HSTATE_LEN and string.sub(s, HSTATE_LEN + 1) or ''
	return { st = st, ok = ok, ko = ko, since = since, ej = ej, ejt = ejt,
	    err = err,
	    -- what was read, so hstate_save writes only a change
	    st0 = st, ok0 = ok, ko0 = ko, since0 = since, ej0 = ej,
	    ejt0 = ejt, err0 = err }
end

-- A health state as answered: 0 unknown, 1 up, 2 down.
local HNUM = { n = 0, u = 1, d = 2 }

-- Verdicts as packed in a report; UP and WARN count as successes.
local V_UP, V_WARN, V_DOWN, V_UNKNOWN = 1, 2, 3, 4

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
	if h.st ~= h.st0 or h.ok ~= h.ok0 or h.ko ~= h.ko0 or
	    h.since ~= h.since0 or h.ej ~= h.ej0 or h.ejt ~= h.ejt0 or
	    h.err ~= h.err0 then
		redis.call('HSET', KEYS[14], item, struct.pack(HSTATE_FMT, h.st,
		    h.ok, h.ko, h.ej, h.since, h.ejt) .. h.err)
	end
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
	redis.call('HDEL', KEYS[16], item)
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

-- The latency average after a probe of lat ms on an item averaging lat0
-- (0: none yet), or nil when the change is not worth a write (under 5%
-- and 1 ms).
local function lat_average(lat0, lat)
	local avg = lat_mix(lat0, lat, LAT_KEEP_PROBE)
	local d = avg - lat0
	if lat0 == 0 or d >= 1 and d >= lat0 * 0.05 or
	    d <= -1 and -d >= lat0 * 0.05 then
		return avg
	end
	return nil
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


-- health_claim: claim the pool's due health checks.  Due entries are
-- popped and rescheduled lease ms ahead in the same step, so concurrent
-- claimers (several proxypoold on one Redis) never get the same check;
-- if a claimer dies, its checks are due again when the lease passes.
-- The report script sets the real next due time.  Entries whose item left
-- the pool are dropped with their health state.
--
-- KEYS: the 12 pool keys (see item.lua), 13 due ZSET (item -> next
--       probe ms), 14 health HASH (item -> state), 15 health stats HASH,
--       16 last results HASH
-- ARGV: 1 max checks to claim (1..10000), 2 lease ms
-- Returns: the claimed items (array, possibly empty)
-- Errors: BAD_ARGUMENT
register('health_claim', WRITE, function()
	local count, e = arg_range(ARGV[1], 'count', 1, 10000)
	if not count then return bad(e) end
	local lease
	lease, e = arg_ms(ARGV[2], 'lease')
	if not lease then return bad(e) end
	if redis.call('EXISTS', KEYS[1]) == 0 then
		-- the pool is gone: so is its health state
		redis.call('UNLINK', KEYS[13], KEYS[14], KEYS[15], KEYS[16])
		return {}
	end
	local now = now_ms()
	local due = redis.call('ZRANGEBYSCORE', KEYS[13], '-inf', now,
	    'LIMIT', 0, count)
	local out = {}
	local args = {}
	local there = #due > 0 and hmget(KEYS[2], due)
	local at = string.format('%d', now + lease)	-- formatted once
	for i = 1, #due do
		local item = due[i]
		if there[i] then
			out[#out + 1] = item
			args[#args + 1] = at
			args[#args + 1] = item
		else
			hstate_drop(item)
		end
	end
	bulk('ZADD', KEYS[13], args)
	return out
end)

-- health_report: record active health check results, atomically:
-- rise/fall state (HAProxy model), latency average and its priority
-- sub-class, quarantine while DOWN, the early end of an ejection after a
-- success (if asked), the slow decay of the ejection count while healthy,
-- eviction after evict_after DOWN, and the next due time (inter while
-- stable, fastinter while changing, downinter while DOWN, with jitter).
-- Several results of one pool go in one call (the prober batches them).
--
-- KEYS: the 12 pool keys (see item.lua), 13 due ZSET, 14 health HASH,
--       15 health stats HASH, 16 last results HASH
-- ARGV: 1 rise, 2 fall, 3 inter ms, 4 fastinter ms, 5 downinter ms,
--       6 jitter per mille (0..500), 7 latency step ms (0 = latency does
--       not rank), 8 evict_after ms (0 = never), 9 end quarantine on
--       success (0/1), 10 the results packed (RESULT_FMT, one after the
--       other): verdict (1 UP, 2 WARN, 3 DOWN, 4 UNKNOWN), latency ms (<
--       0 = unknown), random per mille (0..999), ms since the probe
--       started (the interval runs from its start), reason (may be
--       empty); then their items (1..HEALTH_BATCH of them), in order
-- Returns: the answers packed in one string (ANSWER_FMT, one per result,
--   in order): state, prev (0 unknown, 1 up, 2 down), successes,
--   failures, latency ms * 10, latency class, next due ms, flags (1
--   evicted, 2 unquarantined, 4 gone).  (A reply of 10 numbers per result
--   cost Redis twice as much as the packing.)
-- Errors: NO_SUCH_POOL, BAD_ARGUMENT (nothing changed)
local HEALTH_BATCH = 100
local ANSWER_FMT = '<BBHHI4HdB'

local RESULT_FMT = '<BdHI4Hc0'
local RESULT_FIXED = 17		-- bytes before the reason
local REPORT_SPEC = {
	{ 'rise', 1, 1000 }, { 'fall', 1, 1000 }, { 'inter', 1, MS_MAX },
	{ 'fastinter', 1, MS_MAX }, { 'downinter', 1, MS_MAX },
	{ 'jitter', 0, 500 }, { 'latency step', 0, 3600000 },
	{ 'evict_after', 0, MS_MAX }, { 'end quarantine', 0, 1 }
}

-- The results of a report (see above) as five arrays, or nil and the
-- problem.  Each struct.unpack reads one result and returns where the
-- next one starts.
local function report_parse(blob, nres)
	local names, verdicts, lats, rnds, els, reasons = {}, {}, {}, {}, {},
	    {}
	local pos, len = 1, #blob
	for i = 1, nres do
		local item = ARGV[10 + i]
		local e = bad_key(item, 'item')
		if e then return nil, e end
		if len - pos + 1 < RESULT_FIXED then
			return nil, 'result ' .. i .. ' is truncated'
		end
		local v, lat, r, el, reason
		v, lat, r, el, reason, pos = struct.unpack(RESULT_FMT, blob, pos)
		if v < V_UP or v > V_UNKNOWN then
			return nil, 'verdict must be UP, WARN, DOWN or UNKNOWN'
		end
		if lat ~= lat or lat > 86400000 then
			return nil, 'latency must be a number of ms (< 0: unknown)'
		end
		if r > 999 then
			return nil, 'random must be from 0 to 999'
		end
		names[i], verdicts[i], lats[i], rnds[i], els[i], reasons[i] =
		    item, v, lat, r, el, reason
	end
	if pos ~= len + 1 then
		return nil, 'results: ' .. (len + 1 - pos) .. ' bytes too many'
	end
	return names, verdicts, lats, rnds, els, reasons
end

register('health_report', WRITE, function()
	local conf, err = pool_conf(false)
	if not conf then return err end
	local p = {}
	local e
	for i = 1, #REPORT_SPEC do
		local n, sp = nil, REPORT_SPEC[i]
		n, e = arg_range(ARGV[i], sp[1], sp[2], sp[3])
		if not n then return bad(e) end
		p[i] = n
	end
	local rise, fall, inter, fastinter, downinter = p[1], p[2], p[3], p[4], p[5]
	local jitter, step, evict, endq = p[6], p[7], p[8], p[9]
	local streak = math.max(rise, fall)	-- ok/ko count no further
	local nres = #ARGV - 10
	if nres < 1 or nres > HEALTH_BATCH then
		return bad('expected 1 to ' .. HEALTH_BATCH .. ' results')
	end
	-- read and check every result before changing anything (a reason
	-- longer than the data left makes struct.unpack raise)
	local ok, names, verdicts, lats, rnds, els, reasons =
	    pcall(report_parse, ARGV[10], nres)
	if not ok then
		return bad('results are truncated')
	end
	if not names then return bad(verdicts) end

	local now = now_ms()
	local at = string.format('%d', now)
	redis.call('HINCRBY', KEYS[15], 'probes', nres)
	if step ~= CALL.lat_step then	-- read by pool_conf
		redis.call('HSET', KEYS[1], 'lat_step', step)
		CALL.lat_step = step
	end

	-- The batch's item records and health records in two calls (a call
	-- per result costs more than all the rest of a stable result).  An
	-- item given twice is read again the second time.
	local items = hmget(KEYS[2], names)
	local hrecs = hmget(KEYS[14], names)
	local seen = {}
	local out = {}		-- the answers, packed
	-- the head of the health record of an item steadily UP
	local steady = struct.pack('<c1HH', 'u', streak, 0)
	local due = {}		-- next due times, set in one ZADD at the end
	-- items not UP (true) and UP again (false): their hlast entries
	-- set to now or gone, once at the end (an item's last result wins)
	local last, lastn = {}, {}

	-- The next check of the i-th result, base ms after its probe started
	-- (with jitter), but never sooner than half an interval from now (a
	-- probe that took longer than the interval); queued for the ZADD.
	local function next_due(i, base)
		local wait = math.floor(base * (1 + jitter * (2 * rnds[i] - 999) /
		    999000))
		if wait < 1 then
			wait = 1
		end
		local half = math.floor(wait / 2)
		wait = wait - els[i]
		local nxt = now + (wait > half and wait or half)
		due[#due + 1] = string.format('%d', nxt)
		due[#due + 1] = names[i]
		return nxt
	end

	-- The i-th answer: states, counts, latency, class, next due and the
	-- evicted, unquarantined and gone flags.
	local function answer(i, st, prev, ok, ko, lat, class, nxt, ev, unq, gone)
		out[i] = struct.pack(ANSWER_FMT, st, prev, ok, ko,
		    math.floor(lat * 10 + 0.5), class, nxt, ev + 2 * unq + 4 * gone)
	end

	-- Record the i-th result.
	local function record(i)
		local item, verdict, lat = names[i], verdicts[i], lats[i]
		local raw, hrec
		if seen[item] then
			raw = redis.call('HGET', KEYS[2], item)
			hrec = redis.call('HGET', KEYS[14], item)
		else
			seen[item] = true
			raw, hrec = items[i], hrecs[i]
		end
		if not raw then
			-- removed meanwhile: forget it
			redis.call('ZREM', KEYS[13], item)
			hstate_drop(item)
			if last[item] then
				last[item] = false
			end
			answer(i, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1)
			return
		end

		-- The common case, read from the records' heads alone: an UP
		-- item UP again, its latency average within the write deadband,
		-- nothing to lift or to decay.  Only its next check moves.
		if verdict == V_UP and hrec and #hrec >= HSTATE_LEN and
		    string.sub(hrec, 1, 5) == steady then
			local st, lat0 = item_head(raw)
			if st and st ~= 'q' and
			    (lat < 0 or not lat_average(lat0, lat)) then
				answer(i, 1, 1, streak, 0, lat0, lat_class_of(lat0),
				    next_due(i, inter), 0, 0, 0)
				return
			end
		end

		local m = item_decode(raw)
		local h = hstate_decode(hrec)
		local prev = h.st
		local changed = false	-- m needs saving

		local ok = verdict <= V_WARN
		local lat0, class_before = m.lat, lat_class(m)
		if ok then
			-- (a lower rise or fall since: the count comes down)
			h.ok = h.ok < streak and h.ok + 1 or streak
			h.ko = 0
			local avg = lat >= 0 and lat_average(lat0, lat)
			if avg then
				m.lat = avg
				changed = true
			end
			if h.st ~= 'u' and h.ok >= rise then
				h.st = 'u'
				h.since = now
			end
		elseif verdict == V_DOWN then
			-- (a lower rise or fall since: the count comes down)
			h.ko = h.ko < streak and h.ko + 1 or streak
			h.ok = 0
			if h.st ~= 'd' and h.ko >= fall then
				h.st = 'd'
				h.since = now
			end
		end
		if verdict ~= V_UP and reasons[i] ~= '' then
			local reason = string.sub(reasons[i], 1, 200)
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
				if last[item] then
					last[item] = false
				end
				answer(i, 2, HNUM[prev], h.ok, h.ko, 0, 0, 0, 1, 0, 0)
				return
			end
			if m.st ~= 'q' or m.untl < now + MS_MAX / 2 then
				-- DOWN: out of service until it is UP again
				quarantine(item, m, now + MS_MAX, conf)
			end
		elseif prev == 'd' and h.st ~= 'd' and m.st == 'q' and
		    m.untl >= now + MS_MAX / 2 - 86400000 then
			-- no longer DOWN: back in service, but an ejection or a ban
			-- that the DOWN quarantine covered runs its course unless
			-- a success ends it (end_quarantine)
			if m.cov > now and not (ok and endq == 1) then
				m.untl = m.cov
				m.cov = 0
				redis.call('ZADD', KEYS[7], m.untl, item)
				due_at(m.untl, conf)
				item_save(item, m)
			else
				unquarantine(item, m, now, conf)
				m = item_get(item)
			end
		elseif ok and h.st == 'u' and m.st == 'q' and endq == 1 then
			unquarantine(item, m, now, conf)
			m = item_get(item)
			unq = 1
		end
		local class = 0
		if m then
			-- a healthy interval (eject base time without a new ejection) lowers
			-- the ejection count again
			if ok and h.st == 'u' and m.st ~= 'q' and m.ej > 0 then
				if h.ej ~= m.ej then
					h.ej = m.ej
					h.ejt = now
				elseif now - h.ejt >= math.max(conf.eb, 1) then
					m.ej = m.ej - 1
					h.ej = m.ej
					h.ejt = now
					changed = true
				end
			end
			if changed then
				item_save(item, m)
			end
			class = class_before
			if m.lat ~= lat0 then
				class = lat_class(m)
				if class ~= class_before then
					rescore(item, m)
				end
			end
		end

		local base = inter
		if h.st == 'd' and h.ok == 0 then
			base = downinter
		elseif h.st == 'n' or (h.st == 'u' and h.ko > 0) or
		    (h.st == 'd' and h.ok > 0) then
			base = fastinter
		end
		local nxt = next_due(i, base)
		if h.st ~= 'u' or prev ~= 'u' then
			if last[item] == nil then
				lastn[#lastn + 1] = item
			end
			last[item] = h.st ~= 'u'
		end
		hstate_save(item, h, prev)
		answer(i, HNUM[h.st], HNUM[prev], h.ok, h.ko, m and m.lat or 0,
		    class, nxt, 0, unq, 0)
	end

	for i = 1, nres do
		record(i)
	end
	bulk('ZADD', KEYS[13], due)
	local set, gone = {}, {}
	for i = 1, #lastn do
		local item = lastn[i]
		if last[item] then
			set[#set + 1] = item
			set[#set + 1] = at
		else
			gone[#gone + 1] = item
		end
	end
	bulk('HSET', KEYS[16], set)
	bulk('HDEL', KEYS[16], gone)
	return table.concat(out)
end)

-- health_sync: give every item of the pool a due time for its first
-- health check (items added by any client, on any instance), one HSCAN
-- page per call.  Items already scheduled keep their time (ZADD NX);
-- new ones are spread over spread ms so checks do not come in bursts.
-- A pass is skipped at its start when no item was added since the last
-- complete pass began (meta fields added, counted by items_add, and
-- hsynced) and the due set is as big as the pool: a big pool is not
-- scanned again and again for nothing, by every instance.  (A due entry
-- lost otherwise is found once the set is smaller than the pool: entries
-- of removed items go at their next claim.)
--
-- KEYS: the 12 pool keys (see item.lua), 13 due ZSET, 14 health HASH,
--       15 health stats HASH
-- ARGV: 1 HSCAN cursor, 2 page size (1..10000), 3 spread ms,
--       4 random offset 0..999
-- Returns: the next cursor (integer, 0 = pass complete)
-- Errors: NO_SUCH_POOL, BAD_ARGUMENT
register('health_sync', WRITE, function()
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
	if ARGV[1] == '0' then
		local c = redis.call('HMGET', KEYS[1], 'added', 'hsynced')
		local added = c[1] or '0'
		if added == c[2] and redis.call('ZCARD', KEYS[13]) >=
		    redis.call('HLEN', KEYS[2]) then
			return 0
		end
		-- the start of the earliest pass under way (or abandoned): a
		-- pass that completes has covered every item added before it
		redis.call('HSETNX', KEYS[1], 'hsync_start', added)
	end
	local r = redis.call('HSCAN', KEYS[2], ARGV[1], 'COUNT', count)
	local now = now_ms()
	local args = {}
	local kv = r[2]
	for i = 1, #kv, 2 do
		local pos = (off + (i - 1) * 309) % 1000
		args[#args + 1] = string.format('%d',
		    now + math.floor(spread * pos / 1000))
		args[#args + 1] = kv[i]
	end
	bulk('ZADD', KEYS[13], args, 'NX')
	if r[1] == '0' then
		local start = redis.call('HGET', KEYS[1], 'hsync_start')
		if start then
			redis.call('HSET', KEYS[1], 'hsynced', start)
			redis.call('HDEL', KEYS[1], 'hsync_start')
		end
	end
	return tonumber(r[1])
end)

-- health_counts: health totals of a pool, O(1) in its size.
--
-- KEYS: the 12 pool keys (see item.lua), 13 due ZSET, 14 health HASH,
--       15 health stats HASH
-- ARGV: none
-- Returns: { up, down, probes, { reason, count, ... } } (errors by
--   reason, digits folded to '#', at most HEALTH_REASONS of them)
-- Errors: NO_SUCH_POOL
register('health_counts', READ, function()
	local conf, err = pool_conf(false)
	if not conf then return err end
	local c = redis.call('HMGET', KEYS[15], 'up', 'down', 'probes')
	local all = redis.call('HGETALL', KEYS[15])
	local errs = {}
	for i = 1, #all, 2 do
		if string.sub(all[i], 1, 2) == 'e:' then
			errs[#errs + 1] = string.sub(all[i], 3)
			errs[#errs + 1] = tonumber(all[i + 1])
		end
	end
	return { tonumber(c[1]) or 0, tonumber(c[2]) or 0, tonumber(c[3]) or 0,
	    errs }
end)

-- health_get: the health of some items, for LIST: state, since, the last
-- result recorded while not UP, the next check and the last error.
--
-- KEYS: the 12 pool keys (see item.lua), 13 due ZSET, 14 health HASH,
--       15 health stats HASH, 16 last results HASH
-- ARGV: the items (1..HEALTH_GET_MAX)
-- Returns: per item { state (-1 none yet, 0 unknown, 1 up, 2 down),
--   since ms (0: none), last result ms while not UP (0: none or UP),
--   next check ms (-1: none scheduled), last error reason }
-- Errors: NO_SUCH_POOL, BAD_ARGUMENT
local HEALTH_GET_MAX = 1000
register('health_get', READ, function()
	local conf, err = pool_conf(false)
	if not conf then return err end
	if #ARGV < 1 or #ARGV > HEALTH_GET_MAX then
		return bad('expected 1 to ' .. HEALTH_GET_MAX .. ' items')
	end
	for i = 1, #ARGV do
		local e = bad_key(ARGV[i], 'item')
		if e then return bad(e) end
	end
	local hrecs = hmget(KEYS[14], ARGV)
	local lasts = hmget(KEYS[16], ARGV)
	local out = {}
	for i = 1, #ARGV, UNPACK_MAX do
		local n = math.min(i + UNPACK_MAX - 1, #ARGV)
		local sc = redis.call('ZMSCORE', KEYS[13], unpack(ARGV, i, n))
		for j = i, n do
			local s = hrecs[j]
			local st, since, why = -1, 0, ''
			if s then
				local h = hstate_decode(s)
				st, since, why = HNUM[h.st], h.since, h.err
			end
			local nxt = sc[j - i + 1]
			out[j] = { st, since, (st ~= 1 and tonumber(lasts[j])) or 0,
			    nxt and tonumber(nxt) or -1, why }
		end
	end
	return out
end)
