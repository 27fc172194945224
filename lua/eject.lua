-- eject.lua: outcomes and ejection: the health an outcome (OK, FAILED,
-- BANNED) leaves on an item, quarantine with backoff, and the end of a
-- lease, which carries an outcome.

-- Quarantine an item until untl (ms); a longer one already running stays.
-- One a longer one covers is remembered in m.cov (the later end): when
-- that one is a DOWN quarantine, which ends when the item is UP again,
-- the shorter one may still have to run its course then (health_report).
local function quarantine(item, m, untl, conf)
	if m.st == 'd' then
		return
	end
	if m.st == 'q' then
		if untl > m.untl then
			m.cov = math.max(m.cov, m.untl)
			m.untl = untl
			redis.call('ZADD', KEYS[7], untl, item)
			due_at(untl, conf)
		elseif untl > m.cov then
			m.cov = untl
		end
	else
		m.cov = 0
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
	m.cov = 0
	m.st = 'x'
	if m.h == 0 and expired(m, now) then
		item_delete(item, m, conf)
		return
	end
	st_enter(item, m, rest_state(m), conf)
	item_save(item, m)
end

-- Apply an outcome (OK, FAILED, BANNED, NONE) and a latency (< 0 =
-- unknown) to m: failures counted, an ejection when they reach
-- eject_failures (within eject_max_percent of the pool), a ban.  Returns
-- the end of a quarantine it earns, or nil.
local function eject_outcome(m, outcome, lat, now, conf)
	if lat >= 0 then
		m.lat = lat_mix(m.lat, lat, LAT_KEEP_OUTCOME)
	end
	if outcome == 'OK' then
		m.fail = 0
		m.ej = 0
	elseif outcome == 'FAILED' then
		m.fail = m.fail + 1
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
		return now + conf.ban
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

-- A lease record (KEYS[6]): its expiry, then item NUL holder; and the
-- item and expiry of one.
local function lease_record(exp, item, holder)
	return struct.pack('<d', exp) .. item .. SEP .. holder
end

local function lease_item(v)
	return string.sub(v, 9, string.find(v, SEP, 9, true) - 1),
	    struct.unpack('<d', v)
end

-- End a lease (release or expiry) with an outcome; v: its record when
-- the caller read it.  Returns false when the token holds no lease, else
-- true and, when the outcome ejected or banned the item, the end of the
-- quarantine it earned (ms) and the item.
local function lease_end(token, outcome, lat, now, conf, v)
	v = v or redis.call('HGET', KEYS[6], token)
	if not v then
		redis.call('ZREM', KEYS[5], token)
		return false
	end
	redis.call('HDEL', KEYS[6], token)
	redis.call('ZREM', KEYS[5], token)
	local item = lease_item(v)
	local m = item_get(item)
	if not m then
		return true
	end
	if m.h > 0 then
		m.h = m.h - 1
	end
	local untl = eject_outcome(m, outcome, lat, now, conf)
	if untl and m.st ~= 'd' and not (m.h == 0 and expired(m, now)) then
		quarantine(item, m, untl, conf)
		return true, untl, item
	end
	settle(item, m, now, conf)
	return true
end


-- quarantine: keep an item from being leased for a while (its leases
-- stay valid); 0 ms ends a quarantine now.  A longer quarantine already
-- running is kept.
--
-- KEYS: the 12 pool keys (see item.lua)
-- ARGV: 1 item, 2 duration ms
-- Returns: the end of the quarantine (ms), 0 when lifted.
-- Errors: NOT_FOUND (no such item, or draining), NO_SUCH_POOL,
--   BAD_ARGUMENT
register('quarantine', WRITE, function()
	local conf, err = pool_conf(false)
	if not conf then return err end
	local e = bad_key(ARGV[1], 'item')
	if e then return bad(e) end
	local ms
	ms, e = arg_ms(ARGV[2], 'quarantine time', false)
	if not ms then return bad(e) end
	local item = ARGV[1]
	local m = item_get(item)
	if not m or m.st == 'd' then
		return fail('NOT_FOUND', 'no such item')
	end
	local now = now_ms()
	if ms == 0 then
		if m.st == 'q' then
			unquarantine(item, m, now, conf)
		end
		return 0
	end
	quarantine(item, m, now + ms, conf)
	return m.untl
end)

-- report: an item's outcome without a lease (passive health
-- feedback): the same failure counting, ejection and latency average as
-- release.
--
-- KEYS: the 12 pool keys (see item.lua)
-- ARGV: 1 item, 2 outcome (NONE, OK, FAILED, BANNED), 3 latency ms
--       (< 0 = unknown)
-- Returns: 1, or when the outcome ejected or banned the item, the end of
--   the quarantine it earned (ms) and the item: { until, item }
-- Errors: NOT_FOUND (no such item), NO_SUCH_POOL, BAD_ARGUMENT
register('report', WRITE, function()
	local conf, err = pool_conf(false)
	if not conf then return err end
	local e = bad_key(ARGV[1], 'item')
	if e then return bad(e) end
	local outcome, lat
	outcome, lat, e = arg_outcome(ARGV[2], ARGV[3])
	if not outcome then return bad(e) end
	local item = ARGV[1]
	local m = item_get(item)
	if not m then
		return fail('NOT_FOUND', 'no such item')
	end
	local now = now_ms()
	local untl = eject_outcome(m, outcome, lat, now, conf)
	if untl and m.st ~= 'd' then
		quarantine(item, m, untl, conf)
		return { untl, item }
	end
	item_save(item, m)
	return 1
end)
