-- item.lua: items and their states: metadata, priority classes, the free
-- and shared ZSETs, removal and draining; adding, removing and listing
-- items.
--
-- Every pool script takes the same KEYS, all under the hash tag
-- {prefix:pool}:
--   KEYS[1]  meta      HASH  pool settings and counters
--   KEYS[2]  items     HASH  item -> metadata (see item_get)
--   KEYS[3]  free      ZSET  free items, score class*2^32 + sequence
--   KEYS[4]  shared    ZSET  shareable held items, score class*2^36 +
--                            holders*2^26 + sequence (mod 2^26)
--   KEYS[5]  leases    ZSET  token -> lease expiry (ms)
--   KEYS[6]  lease     HASH  token -> the lease expiry (struct '<d', as
--                            in KEYS[5]) then item NUL holder
--   KEYS[7]  quarantine ZSET item -> end of quarantine (ms)
--   KEYS[8]  bind      HASH  name -> item
--   KEYS[9]  bindexp   ZSET  name -> binding expiry (ms); absent = forever
--   KEYS[10] bindrev   ZSET  item NUL name, score 0 (names per item, lex)
--   KEYS[11] itemexp   ZSET  item -> item expiry (ms)
--   KEYS[12] fence     STRING fencing counter, INCR on every grant
--                            (from the Redis clock when missing, see
--                            next_fence)
-- meta fields: conf (the packed settings, see pool_conf), deleted, seq
-- (LRU sequence), gen (assign generation), added (items ever added; with
-- hsync_start and hsynced, see health_sync), nshared ndrain (items in those
-- states; free and quarantined ones are ZCARDs, leased ones the rest, so
-- an exclusive lease or release writes no counter), lat_step (see
-- lat_class), rdue (see reclaim).
--
-- Item states: f free, l leased (exclusive), s shared, q quarantined,
-- d draining (removed, leaves when its last holder releases).


-- Defined in bind.lua (item_delete drops an item's bindings).
local unbind, item_names

-- Item metadata is packed with struct, little endian, trailing zero
-- fields dropped: state c1, prio h, gen I4, latency in tenths of a ms I4,
-- holders I4, shared B, failures I4, ejections I4, expiry d, until d (ms),
-- covered d (the end of a shorter quarantine, an ejection or a ban, that a
-- DOWN one covers, in ms; see health_report).  struct unpacks numbers with
-- no text to parse, and a free item is 1 to 11 bytes.
local ITEM_FIELDS = { 'c1', 'h', 'I4', 'I4', 'I4', 'B', 'I4', 'I4', 'd', 'd',
    'd' }
local ITEM_SIZE = { c1 = 1, h = 2, I4 = 4, B = 1, d = 8 }
local ITEM_FMT = {}	-- the format of the first n fields
local ITEM_AT = {}	-- record length -> fields it holds, 0 when none fit
local ITEM_MAX		-- bytes of a whole record
do
	local fmt, len = '<', 0
	ITEM_AT[0] = 0
	for n = 1, #ITEM_FIELDS do
		fmt = fmt .. ITEM_FIELDS[n]
		len = len + ITEM_SIZE[ITEM_FIELDS[n]]
		ITEM_FMT[n] = fmt
		ITEM_AT[len] = n
	end
	ITEM_MAX = len
end

-- The metadata of a stored record ('': a new free item).  Of a record
-- too long to be one, the first ITEM_MAX bytes are read; one of another
-- length is padded with NUL bytes.
local function item_decode(s)
	local n, b = ITEM_AT[#s], s
	if not n then
		b = string.sub(s .. string.rep('\0', ITEM_MAX), 1, ITEM_MAX)
		n = #ITEM_FIELDS
	end
	local st, p, g, l10, h, sh, f, ej, e, u, c =
	    'f', 0, 0, 0, 0, 0, 0, 0, 0, 0, 0
	if n > 0 then
		st, p, g, l10, h, sh, f, ej, e, u, c =
		    struct.unpack(ITEM_FMT[n], b)
	end
	if n < 11 then
		-- the fields the record lacks are 0 (after its last one,
		-- struct.unpack returns its next position)
		c = 0
		if n < 10 then u = 0 end
		if n < 9 then e = 0 end
		if n < 8 then ej = 0 end
		if n < 7 then f = 0 end
		if n < 6 then sh = 0 end
		if n < 5 then h = 0 end
		if n < 4 then l10 = 0 end
		if n < 3 then g = 0 end
		if n < 2 then p = 0 end
	end
	return {
		st = st ~= '\0' and st or 'f', prio = p, gen = g, lat = l10 / 10,
		h = h, sh = sh, fail = f, ej = ej, exp = e, untl = u, cov = c,
		raw = s		-- what is stored: item_save skips a no-op
	}
end

-- The state and latency average of a stored record without ejections or
-- an expiry (fields 8 on are zero), the common case of a health result;
-- nil for any other record.
local function item_head(s)
	local n = ITEM_AT[#s]
	if not n or n >= 8 then
		return nil
	elseif n < 4 then
		return n > 0 and string.sub(s, 1, 1) or 'f', 0
	end
	-- the latency's 4 bytes (little endian, at 8): string.byte costs a
	-- third of a struct.unpack
	local a, b, c, d = string.byte(s, 8, 11)
	return string.sub(s, 1, 1), (a + b * 256 + c * 65536 + d * 16777216) / 10
end

local function item_get(item)
	local s = redis.call('HGET', KEYS[2], item)
	if not s then
		return nil
	end
	return item_decode(s)
end

-- The fields of m in record order, for finding the last one not zero.
local ITEM_KEYS = { 'st', 'prio', 'gen', 'lat', 'h', 'sh', 'fail', 'ej',
    'exp', 'untl', 'cov' }

local function item_encode(m)
	local n = #ITEM_KEYS
	while n > 1 and m[ITEM_KEYS[n]] == 0 do
		n = n - 1
	end
	return struct.pack(ITEM_FMT[n], m.st, m.prio, m.gen,
	    math.floor(m.lat * 10 + 0.5), m.h, m.sh, m.fail, m.ej, m.exp,
	    m.untl, m.cov)
end

-- Store m (nothing is written when its record did not change).
local function item_save(item, m)
	local s = item_encode(m)
	if s ~= m.raw then
		redis.call('HSET', KEYS[2], item, s)
		m.raw = s
	end
end

local function expired(m, now)
	return m.exp > 0 and m.exp <= now
end


-- Priority class: the static priority first, then a latency sub-class
-- 0..LAT_CLASSES-1 (latency average / the pool's lat_step ms, set by the
-- health checks; 0 when unknown or when latency does not rank), so a
-- faster item is leased before a slower one of the same priority.
-- |class| < 2^19, so class * 2^32 + 2^32 stays exact in a double.
-- The one latency average of an item: lat ms mixed into its average lat0
-- (0: none yet), keep being the old value's share (a client's outcome
-- moves it less than a health probe, which measures the proxy alone);
-- rounded to a tenth of a ms, as stored, and never 0, which means none.
local LAT_KEEP_OUTCOME, LAT_KEEP_PROBE = 0.8, 0.7
local function lat_mix(lat0, lat, keep)
	local avg = lat
	if lat0 ~= 0 then
		avg = lat0 * keep + lat * (1 - keep)
	end
	avg = math.floor(avg * 10 + 0.5) / 10
	return avg < 0.1 and 0.1 or avg
end

local function lat_class_of(lat)
	local step = CALL.lat_step
	if step == nil then
		step = tonumber(redis.call('HGET', KEYS[1], 'lat_step')) or 0
		CALL.lat_step = step
	end
	if step <= 0 or lat <= 0 then
		return 0
	end
	return math.min(LAT_CLASSES - 1, math.floor(lat / step))
end

local function lat_class(m)
	return lat_class_of(m.lat)
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
	elseif st == 'q' then
		redis.call('ZADD', KEYS[7], m.untl, item)
		due_at(m.untl, conf)
	elseif st == 'd' then
		redis.call('HINCRBY', KEYS[1], 'ndrain', 1)
	end
end

-- Items per state: { total, free, leased, shared, quarantined, draining }.
local function state_counts()
	local c = redis.call('HMGET', KEYS[1], 'nshared', 'ndrain')
	local total = redis.call('HLEN', KEYS[2])
	local free = redis.call('ZCARD', KEYS[3])
	local q = redis.call('ZCARD', KEYS[7])
	local sh, dr = tonumber(c[1]) or 0, tonumber(c[2]) or 0
	return { total, free, total - free - q - sh - dr, sh, q, dr }
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

-- Remove an item for good (it has no holders).
local function item_delete(item, m, conf)
	st_leave(item, m)
	redis.call('HDEL', KEYS[2], item)
	if m.exp > 0 then
		redis.call('ZREM', KEYS[11], item)
	end
	-- does the pool have any binding?  (asked once per call)
	if CALL.any_bindings == nil then
		CALL.any_bindings = redis.call('EXISTS', KEYS[10]) == 1
	end
	if CALL.any_bindings then
		local names = item_names(item)
		for i = 1, #names do
			unbind(names[i])
		end
	end
	if CALL.deleted and redis.call('HLEN', KEYS[2]) == 0 then
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
		m.cov = 0
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

-- An item's own expiry passed: it leaves now or when released.
local function item_expire(item, now, conf)
	redis.call('ZREM', KEYS[11], item)
	local m = item_get(item)
	if m and m.st ~= 'd' then
		item_remove(item, conf)
	end
end


-- items_add: add or update items (one chunk; the library splits
-- bigger requests).  A new item is free; an existing one gets the new
-- priority and expiry and keeps its state; a draining one comes back.
--
-- KEYS: the 12 pool keys (see item.lua)
-- ARGV: 1 generation (0 = the pool's current one; see assign_begin),
--       then per item: key, priority (-32768..32767),
--       expires ms from now (0 = never)
-- Returns: the number of items that were new.
-- Errors: NO_SUCH_POOL, BAD_ARGUMENT (the whole chunk is rejected and
--   nothing changes).
register('items_add', WRITE, function()
	local conf, err = pool_conf(true)
	if not conf then return err end
	local gen = tonumber(ARGV[1])
	if gen == nil or gen < 0 or gen ~= math.floor(gen) then
		return bad('generation must be a non-negative integer')
	end
	if (#ARGV - 1) % 3 ~= 0 then
		return bad('items come as key, priority, expiry triples')
	end
	local prio, exp = {}, {}
	for i = 2, #ARGV, 3 do
		local e = bad_key(ARGV[i], 'item')
		if e then return bad(e) end
		prio[i], e = arg_range(ARGV[i + 1], 'priority', PRIO_MIN, PRIO_MAX)
		if not prio[i] then return bad(e) end
		exp[i], e = arg_ms(ARGV[i + 2], 'item expiry', false)
		if not exp[i] then return bad(e) end
	end
	if gen == 0 then
		gen = tonumber(redis.call('HGET', KEYS[1], 'gen')) or 0
	end
	-- cmd key with args, in slices unpack can take
	local now = now_ms()
	local keys = {}
	for i = 2, #ARGV, 3 do
		keys[#keys + 1] = ARGV[i]
	end
	local cur = hmget(KEYS[2], keys)

	-- New items are written in bulk (one sequence range, one ZADD, one HSET);
	-- existing ones are updated in place, each key once even if given twice
	-- (its last triple wins).
	local fresh, order, seen = {}, {}, {}
	local hset, eadd, erem = {}, {}, {}
	local added, revived = 0, 0
	for k = 1, #keys do
		local i = 2 + (k - 1) * 3
		local item = keys[k]
		local abs = exp[i] > 0 and now + exp[i] or 0
		if fresh[item] or (not cur[k] and not seen[item]) then
			if not fresh[item] then
				added = added + 1
				order[added] = item
			end
			fresh[item] = { prio[i], abs }
		else
			local m = seen[item]
			if not m then
				m = item_decode(cur[k])
				m.oldexp = m.exp
				seen[item] = m
			end
			if m.st == 'd' then
				revived = revived + 1	-- new to health_sync too
			end
			local moved = m.prio ~= prio[i] or m.st == 'd'
			if moved then
				st_leave(item, m)
			end
			m.prio = prio[i]
			m.exp = abs
			m.gen = gen
			if moved then
				if m.st == 'q' then
					st_enter(item, m, 'q', conf)
				else
					st_enter(item, m, rest_state(m), conf)
				end
			end
		end
	end
	for item, m in pairs(seen) do
		hset[#hset + 1] = item
		hset[#hset + 1] = item_encode(m)
		if m.exp > 0 then
			eadd[#eadd + 1] = m.exp
			eadd[#eadd + 1] = item
		elseif m.oldexp > 0 then
			erem[#erem + 1] = item
		end
	end
	if added + revived > 0 then
		-- (health_sync skips a pass when this did not move)
		redis.call('HINCRBY', KEYS[1], 'added', added + revived)
	end
	if added > 0 then
		local seq = redis.call('HINCRBY', KEYS[1], 'seq', added) - added
		local zadd = {}
		local m = item_decode('')
		m.gen = gen
		for k = 1, added do
			local item = order[k]
			m.prio = fresh[item][1]
			m.exp = fresh[item][2]
			zadd[#zadd + 1] = free_score(m, seq + k)
			zadd[#zadd + 1] = item
			hset[#hset + 1] = item
			hset[#hset + 1] = item_encode(m)
			if m.exp > 0 then
				eadd[#eadd + 1] = m.exp
				eadd[#eadd + 1] = item
			end
		end
		bulk('ZADD', KEYS[3], zadd)
	end
	bulk('HSET', KEYS[2], hset)
	bulk('ZADD', KEYS[11], eadd)
	local emin = eadd[1]
	for i = 3, #eadd, 2 do
		emin = math.min(emin, eadd[i])
	end
	if emin then
		due_at(emin, conf)
	end
	bulk('ZREM', KEYS[11], erem)
	return added
end)

-- items_remove: remove items (one chunk): free and quarantined ones
-- at once, held ones drain (leave when their last lease ends).
--
-- KEYS: the 12 pool keys (see item.lua)
-- ARGV: the items
-- Returns: the number of items that were in the pool.
-- Errors: NO_SUCH_POOL, BAD_ARGUMENT (nothing changes).
register('items_remove', WRITE, function()
	local conf, err = pool_conf(false)
	if not conf then return err end
	for i = 1, #ARGV do
		local e = bad_key(ARGV[i], 'item')
		if e then return bad(e) end
	end
	local n = 0
	for i = 1, #ARGV do
		n = n + item_remove(ARGV[i], conf)
	end
	return n
end)

-- assign_begin: start an assign (or clear): a new generation.  The
-- items of the assign are then added with it (items_add) and
-- assign_sweep removes every item of an older generation.
--
-- KEYS: the 12 pool keys (see item.lua)
-- ARGV: none
-- Returns: the new generation.
-- Errors: NO_SUCH_POOL
register('assign_begin', WRITE, function()
	local conf, err = pool_conf(true)
	if not conf then return err end
	return redis.call('HINCRBY', KEYS[1], 'gen', 1)
end)

-- assign_sweep: one bounded step of the sweep after an assign:
-- items of a generation older than ARGV[1] are removed (held ones drain),
-- one page at a time, sized as pool_delete's.
--
-- KEYS: the 12 pool keys (see item.lua)
-- ARGV: 1 generation, 2 scan cursor ("0" first), 3 count
-- Returns: { next cursor ("0" = done), items removed in this step }
-- Errors: NO_SUCH_POOL, BAD_ARGUMENT
register('assign_sweep', WRITE, function()
	local conf, err = pool_conf(true)
	if not conf then return err end
	local gen = tonumber(ARGV[1])
	if gen == nil or gen < 1 or gen ~= math.floor(gen) then
		return bad('generation must be a positive integer')
	end
	local count
	count, err = arg_range(ARGV[3], 'count', 1, 100000)
	if not count then return bad(err) end
	spent_us()		-- the step's cost is measured from here
	local r = redis.call('HSCAN', KEYS[2], ARGV[2], 'COUNT',
	    page_size(count))
	local v = r[2]
	local n = 0
	for i = 1, #v, 2 do
		local m = item_decode(v[i + 1])
		if m.gen < gen and m.st ~= 'd' then
			n = n + item_remove(v[i], conf, m)
		end
	end
	-- (the cost is put on the items removed: a page of items kept costs
	-- little, and one of items removed must fit the budget)
	page_done(n)
	return { r[1], n }
end)

-- list: one page of a pool's items (HSCAN cursor).
--
-- KEYS: the 12 pool keys (see item.lua)
-- ARGV: 1 cursor ("0" starts), 2 count, 3 state filter ("" = every state,
--       else one of f l s q d)
-- Returns: { next cursor ("0" = done), { key, state, priority, holders,
--   expires ms, quarantine end ms, failures, ejections, latency }... }
-- Errors: NO_SUCH_POOL, BAD_ARGUMENT
register('list', READ, function()
	local conf, err = pool_conf(false)
	if not conf then return err end
	local count, e = arg_range(ARGV[2], 'count', 1, 100000)
	if not count then return bad(e) end
	local filter = ARGV[3]
	if filter ~= '' and not string.match(filter, '^[flsqd]$') then
		return bad('state filter must be one of f l s q d')
	end
	if not string.match(ARGV[1], '^%d+$') then
		return bad('cursor must be a decimal number')
	end
	local r = redis.call('HSCAN', KEYS[2], ARGV[1], 'COUNT', count)
	local v = r[2]
	local out = {}
	for i = 1, #v, 2 do
		local m = item_decode(v[i + 1])
		if filter == '' or m.st == filter then
			out[#out + 1] = { v[i], m.st, m.prio, m.h, m.exp, m.untl,
			    m.fail, m.ej, tostring(m.lat) }
		end
	end
	return { r[1], out }
end)
