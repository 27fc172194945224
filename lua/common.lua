-- common.lua: what every function of the library shares: the call
-- context, registration, errors, argument checks, and the pool meta hash
-- every pool function reads.  lua/local.mk joins the files of lua/ in
-- the order of LUA_SRC into one Redis Functions library (see
-- lua/build.sh); a file may use what the files before it define.
--
-- Errors are error replies whose first word is a code the C library maps
-- to enum ra_error: EMPTY, NOT_OWNED, NO_SUCH_POOL, BAD_ARGUMENT, BUSY,
-- NOT_FOUND.

-- The schema version of the data: in the library name
-- (redisallocator_N_B), in every function name (raN_B_lease) and in each
-- pool's meta, so code and data of two versions on one Redis never meet.
-- B is BUILD, the CRC of this code, defined by lua/build.sh before this
-- file: two builds of one schema load side by side and each runs its own
-- functions on the same data.
local SCHEMA = 1

-- What one call works on: its keys and arguments, and CALL, values it
-- read once (lat_step, any_bindings, and deleted and rdue of pool_conf).
-- register() sets all three when a call starts, so nothing outlives a
-- call.
local KEYS, ARGV, CALL

local READ, WRITE = true, false

-- Register fn as raN_B_name; READ functions carry no-writes (FCALL_RO).
-- The lines "register('name', READ|WRITE, ..." are also read by
-- lua/build.sh to make the C table of functions.
local function register(name, mode, fn)
	redis.register_function{
		function_name = 'ra' .. SCHEMA .. '_' .. BUILD .. '_' .. name,
		callback = function(keys, args)
			KEYS, ARGV, CALL = keys, args, {}
			return fn()
		end,
		flags = mode == READ and { 'no-writes' } or {}
	}
end

-- Redis server time in milliseconds (scripts never trust client clocks).
-- The first reading of a call is also where its time budget starts.
local function now_ms()
	local t = redis.call('TIME')
	local s, us = tonumber(t[1]), tonumber(t[2])
	if not CALL.t0 then
		CALL.t0 = s * 1000000 + us
	end
	return s * 1000 + math.floor(us / 1000)
end

-- Work in a call that loops over a backlog (reclaim, bulk steps) is
-- bounded by time, not only by count: BUDGET_US of it at most, so no call
-- comes near the 2 ms any function may take, whatever an item costs.
local BUDGET_US = 1000

-- Microseconds since the call's first now_ms() (a TIME call: ~1 us).
local function spent_us()
	local t = redis.call('TIME')
	local at = tonumber(t[1]) * 1000000 + tonumber(t[2])
	if not CALL.t0 then
		CALL.t0 = at
	end
	return at - CALL.t0
end

-- The page size of a bulk step (HSCAN COUNT) for the pool: what fit in
-- the budget last time, at most max (the first step: PAGE_FIRST).  Each
-- step measures its cost per item with page_done.
local PAGE_FIRST, PAGE_MIN = 32, 4
local function page_size(max)
	local n = tonumber(redis.call('HGET', KEYS[1], 'page')) or PAGE_FIRST
	return math.max(PAGE_MIN, math.min(max, n))
end

-- A bulk step handled n items: the next step's page is what half the
-- budget holds at this step's cost per item (items cost more or less
-- than their neighbours: a draining one, one with bindings).
local function page_done(n)
	if n < 1 then
		return
	end
	local per = math.max(1, spent_us() / n)
	redis.call('HSET', KEYS[1], 'page',
	    math.max(PAGE_MIN, math.floor(BUDGET_US * 0.5 / per)))
end

-- The next fence of the counter at key: INCR, but a counter that was
-- missing (a new pool or lock name, or a Redis that lost its data) starts
-- from the Redis clock, milliseconds x 1000, so fences keep growing
-- across a restart without persistence (while under 1000 are drawn per
-- ms).  now: the caller's now_ms(), or nil.
local function next_fence(key, now)
	local f = redis.call('INCR', key)
	if f == 1 then
		f = (now or now_ms()) * 1000
		redis.call('SET', key, string.format('%d', f))
	end
	return f
end

-- Lua's unpack gives at most about 8000 values: calls with more
-- arguments go in chunks of UNPACK_MAX (even, so pairs stay together).
local UNPACK_MAX = 2000

-- redis.call(cmd, key, [opt,] args...) in chunks.
local function bulk(cmd, key, args, opt)
	for i = 1, #args, UNPACK_MAX do
		local last = math.min(i + UNPACK_MAX - 1, #args)
		if opt then
			redis.call(cmd, key, opt, unpack(args, i, last))
		else
			redis.call(cmd, key, unpack(args, i, last))
		end
	end
end

-- HMGET key fields..., in chunks: the values in the order of fields.
local function hmget(key, fields)
	if #fields == 0 then
		return {}
	end
	if #fields <= UNPACK_MAX then
		return redis.call('HMGET', key, unpack(fields))
	end
	local out = {}
	for i = 1, #fields, UNPACK_MAX do
		local v = redis.call('HMGET', key,
		    unpack(fields, i, math.min(i + UNPACK_MAX - 1, #fields)))
		for j = 1, #v do
			out[i + j - 1] = v[j]
		end
	end
	return out
end

-- Push a wake-up token on the list at key, keeping at most cap (a
-- token for each waiter to wake; LTRIM only when the push passed cap).
local function wake(key, cap)
	if redis.call('LPUSH', key, 1) > cap then
		redis.call('LTRIM', key, 0, cap - 1)
	end
end

local function fail(code, msg)
	return redis.error_reply(code .. ' ' .. msg)
end

-- A non-negative integer ARGV, or nil.
local function argint(v)
	local n = tonumber(v)
	if n == nil or n ~= math.floor(n) then
		return nil
	end
	return n
end

-- Limits of names and durations, and the separator of packed values.
local KEY_MAX = 1024
local MS_MAX = 315360000000		-- 10 years
local SEP = '\0'

-- nil if v is a valid item, pool or binding name, else the problem.
local function bad_key(v, what)
	if v == nil or #v == 0 then
		return what .. ' is empty'
	end
	if #v > KEY_MAX then
		return what .. ' is ' .. #v .. ' bytes, over ' .. KEY_MAX
	end
	if string.find(v, SEP, 1, true) then
		return what .. ' contains a NUL byte'
	end
	return nil
end

-- A duration in ms: integer 0..MS_MAX, or -1 when allow_default.
-- Returns the number, or nil and the problem.
local function arg_ms(v, what, allow_default)
	if allow_default and v == '-1' then	-- the common case, cheaply
		return -1
	end
	local n = tonumber(v)
	if n == nil or n ~= n or n ~= math.floor(n) then
		return nil, what .. ' is not an integer number of ms'
	end
	if allow_default and n == -1 then
		return n
	end
	if n < 0 or n > MS_MAX then
		return nil, what .. ' ' .. v .. ' out of range (0 to ' ..
		    MS_MAX .. ' ms)'
	end
	return n
end

-- An integer within lo..hi, or nil and the problem.
local function arg_range(v, what, lo, hi)
	local n = tonumber(v)
	if n == nil or n ~= n or n ~= math.floor(n) or n < lo or n > hi then
		return nil, what .. ' must be an integer from ' .. lo ..
		    ' to ' .. hi
	end
	return n
end

local function bad(msg)
	return fail('BAD_ARGUMENT', msg)
end


local PRIO_MIN, PRIO_MAX = -32768, 32767
local BIND_PER_ITEM = 256		-- names one item may carry

local LAT_CLASSES = 16

-- The settings pool_create packs into the meta field conf, read in the
-- one HMGET every pool function starts with: schema version, shared,
-- max_shares, lease_ttl, bind_ttl, eject_failures, eject_base, eject_max,
-- eject_max_percent, ban_time (times in ms).
local CONF_FMT = '<BBI4ddI4ddBd'

-- Settings tables by their packed text: the Lua state outlives a call,
-- and a table made once costs a lookup instead of an unpack and a new
-- table on every call.  (Only what the call read is the key, so nothing
-- stale is ever used; the cache is emptied when it grows past a bound.)
local CONF_CACHE, CONF_CACHED, CONF_CACHE_MAX = {}, 0, 256

-- The pool's settings (never changed by the caller: shared between
-- calls), with CALL.deleted (the deletion flag) and CALL.rdue (see
-- reclaim) set; nil and an error reply when the pool does not exist (or,
-- with live, is being deleted) or was written by another schema version.
local function pool_conf(live)
	local c = redis.call('HMGET', KEYS[1], 'conf', 'deleted', 'lat_step',
	    'rdue')
	local packed = c[1]
	if not packed then
		if redis.call('HEXISTS', KEYS[1], 'lease_ttl') == 1 then
			return nil, fail('SCHEMA', 'the pool was written by ' ..
			    'schema version 0 (the EVALSHA scripts); this ' ..
			    'library is version ' .. SCHEMA)
		end
		return nil, fail('NO_SUCH_POOL', 'no such pool')
	end
	local conf = CONF_CACHE[packed]
	if not conf then
		local v, sh, max, lt, bt, ef, eb, emax, pct, ban =
		    struct.unpack(CONF_FMT, packed)
		if v ~= SCHEMA then
			return nil, fail('SCHEMA', 'the pool was written by ' ..
			    'schema version ' .. v .. '; this library is version ' ..
			    SCHEMA)
		end
		conf = {
			shared = sh, max = max, lease_ttl = lt, bind_ttl = bt,
			ef = ef, eb = eb, emax = emax, pct = pct, ban = ban
		}
		if CONF_CACHED >= CONF_CACHE_MAX then
			CONF_CACHE, CONF_CACHED = {}, 0
		end
		CONF_CACHE[packed] = conf
		CONF_CACHED = CONF_CACHED + 1
	end
	CALL.deleted = c[2] == '1'
	if live and CALL.deleted then
		return nil, fail('NO_SUCH_POOL', 'pool is being deleted')
	end
	CALL.lat_step = tonumber(c[3]) or 0
	CALL.rdue = tonumber(c[4])
	return conf
end

-- A time was added to the leases, quarantine, bindexp or itemexp ZSET:
-- keep the meta field rdue at or below the earliest of them (see
-- reclaim).
local function due_at(t, conf)
	if CALL.rdue and t < CALL.rdue then
		CALL.rdue = t
		redis.call('HSET', KEYS[1], 'rdue', t)
	end
end


-- The next LRU sequence number.  (The increment is text: Redis formats
-- a number argument with %.17g, which costs a fifth of the call.)
local function next_seq()
	return redis.call('HINCRBY', KEYS[1], 'seq', '1')
end


-- Delete every key of a pool that finished draining after deletion.
local function pool_drop()
	for i = 1, 12 do
		redis.call('UNLINK', KEYS[i])
	end
end


-- ping: the smallest script; proves the registry works and serves as
-- the reference call in benchmarks.
--
-- KEYS: none
-- ARGV: none
-- Returns: the Redis clock in milliseconds (integer).
register('ping', WRITE, function()
	return now_ms()
end)
