-- lock_extend.lua: renew a lock, only by its owner (redis-py's
-- Lock.extend(additional_time, replace_ttl)).
--
-- KEYS[1]: the lock, "{prefix:lock:name}"
-- ARGV[1]: owner value
-- ARGV[2]: milliseconds
-- ARGV[3]: "1" replace: the TTL becomes ARGV[2] (0 or negative: no
--          expiry); "0" add: ARGV[2] (> 0) is added to the remaining TTL,
--          and a lock without expiry stays without expiry
-- Returns: the new remaining TTL in ms, -1 = no expiry
-- Errors:  NOT_OWNED when the lock is free or held by another owner;
--          BAD_ARGUMENT when ARGV[2] is not an integer or, adding, not > 0.
--          Nothing changes on an error.
local ms = argint(ARGV[2])
if ms == nil then
	return fail('BAD_ARGUMENT', 'ttl is not an integer')
end
local cur = redis.call('GET', KEYS[1])
if cur ~= ARGV[1] then
	if cur == false then
		return fail('NOT_OWNED', 'lock is not held')
	end
	return fail('NOT_OWNED', 'lock is held by another owner')
end
if ARGV[3] == '1' then
	if ms > 0 then
		redis.call('PEXPIRE', KEYS[1], ms)
	else
		redis.call('PERSIST', KEYS[1])
	end
else
	if ms <= 0 then
		return fail('BAD_ARGUMENT', 'additional time must be > 0')
	end
	local left = redis.call('PTTL', KEYS[1])
	if left >= 0 then
		redis.call('PEXPIRE', KEYS[1], left + ms)
	end
end
return redis.call('PTTL', KEYS[1])
