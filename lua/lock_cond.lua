-- lock_cond.lua: the conditional setters and deleters setgt/.../setne and
-- delgt/.../delne: compare a number with the number stored at a key and,
-- when "value OP stored" holds, set or delete the key.
--
-- KEYS[1]: the key, "{prefix:lock:name}"
-- ARGV[1]: OP: gt, lt, ge, le, eq or ne
-- ARGV[2]: value, a number
-- ARGV[3]: "set" or "del"
-- ARGV[4]: set: the value to store
-- ARGV[5]: set: TTL in milliseconds; 0 or negative: no expiry
-- ARGV[6]: epsilon: gt is value > stored + eps, lt value < stored - eps,
--          ge value >= stored - eps, le value <= stored + eps,
--          eq |value - stored| <= eps, ne |value - stored| > eps
-- Returns: 1 the condition held (a missing key counts as true) and the key
--          was set or deleted; 0 it did not hold and nothing changed
-- Errors:  BAD_ARGUMENT on an unknown OP, a value or TTL that is not a
--          number, or a stored value that is not a number.
local v = tonumber(ARGV[2])
local eps = tonumber(ARGV[6])
local ttl = argint(ARGV[5])
local op = ARGV[1]
if v == nil or eps == nil or ttl == nil then
	return fail('BAD_ARGUMENT', 'value, ttl or epsilon is not a number')
end
if ARGV[3] ~= 'set' and ARGV[3] ~= 'del' then
	return fail('BAD_ARGUMENT', 'mode must be set or del')
end
local raw = redis.call('GET', KEYS[1])
local hold
if raw == false then
	hold = true
else
	local c = tonumber(raw)
	if c == nil then
		return fail('BAD_ARGUMENT', 'stored value is not a number')
	end
	if op == 'gt' then
		hold = v > c + eps
	elseif op == 'lt' then
		hold = v < c - eps
	elseif op == 'ge' then
		hold = v >= c - eps
	elseif op == 'le' then
		hold = v <= c + eps
	elseif op == 'eq' then
		hold = math.abs(v - c) <= eps
	elseif op == 'ne' then
		hold = math.abs(v - c) > eps
	else
		return fail('BAD_ARGUMENT', 'unknown comparison ' .. op)
	end
end
if not hold then
	return 0
end
if ARGV[3] == 'del' then
	redis.call('DEL', KEYS[1])
elseif ttl > 0 then
	redis.call('SET', KEYS[1], ARGV[4], 'PX', ttl)
else
	redis.call('SET', KEYS[1], ARGV[4])
end
return 1
