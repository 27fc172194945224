-- common.lua: helpers prepended to every script at build time.
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
