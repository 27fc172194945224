-- lock_update.lua: set a lock's owner and TTL unconditionally (a
-- heartbeat that does not check ownership; it takes the lock from anyone).
--
-- KEYS[1]: the lock, "{prefix:lock:name}"
-- ARGV[1]: owner value
-- ARGV[2]: TTL in milliseconds; 0 or negative: no expiry
-- Returns: 1
-- Errors:  BAD_ARGUMENT when the TTL is not an integer.
local ttl = argint(ARGV[2])
if ttl == nil then
	return fail('BAD_ARGUMENT', 'ttl is not an integer')
end
if ttl > 0 then
	redis.call('SET', KEYS[1], ARGV[1], 'PX', ttl)
else
	redis.call('SET', KEYS[1], ARGV[1])
end
return 1
