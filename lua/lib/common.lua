-- common.lua: helpers prepended to every script at build time, before the
-- libraries a script names with "-- @include NAME" lines (lua/lib/NAME.lua,
-- see lua/embed.sh).
--
-- Scripts signal errors with error replies whose first word is a code the
-- library maps to enum ra_error: EMPTY, NOT_OWNED, NO_SUCH_POOL,
-- BAD_ARGUMENT, BUSY, NOT_FOUND.

-- Redis server time in milliseconds (scripts never trust client clocks).
local function now_ms()
	local t = redis.call('TIME')
	return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
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
