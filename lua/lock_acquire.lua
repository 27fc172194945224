-- lock_acquire.lua: take a lock (SET NX with a TTL) or, re-entrant, take
-- it again for the same owner; every grant draws a new fence number.
--
-- KEYS[1]: the lock, "{prefix:lock:name}" (a string: the owner value)
-- KEYS[2]: its fence counter, "{prefix:lock:name}:fence" (never expires,
--          so fences only grow for a name)
-- ARGV[1]: owner value
-- ARGV[2]: TTL in milliseconds; 0 or negative: no expiry
-- ARGV[3]: "1" re-entrant: the current owner takes it again and its TTL
--          is refreshed (set to ARGV[2]); "0" plain SET NX
-- Returns: {1, fence} when granted; {0, pttl} when another owner holds it
--          (pttl: the holder's remaining TTL in ms, -1 = no expiry)
-- Errors:  BAD_ARGUMENT when the TTL is not an integer.
local ttl = argint(ARGV[2])
if ttl == nil then
	return fail('BAD_ARGUMENT', 'ttl is not an integer')
end
local ok
if ttl > 0 then
	ok = redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ttl)
else
	ok = redis.call('SET', KEYS[1], ARGV[1], 'NX')
end
if not ok then
	if ARGV[3] ~= '1' or redis.call('GET', KEYS[1]) ~= ARGV[1] then
		return {0, redis.call('PTTL', KEYS[1])}
	end
	if ttl > 0 then
		redis.call('PEXPIRE', KEYS[1], ttl)
	else
		redis.call('PERSIST', KEYS[1])
	end
end
return {1, redis.call('INCR', KEYS[2])}
