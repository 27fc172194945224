-- lock_release.lua: release a lock (compare-and-delete by the owner, or
-- forced) and wake one blocked waiter.
--
-- KEYS[1]: the lock, "{prefix:lock:name}"
-- KEYS[2]: its wake-up list, "{prefix:lock:name}:signal"
-- ARGV[1]: owner value (ignored when forced)
-- ARGV[2]: "1" force: delete whoever holds it; "0" only the owner
-- ARGV[3]: lifetime of the wake-up token in ms (short: a token nobody
--          takes must not outlive the moment it was meant for)
-- Returns: 1 released; 0 (forced only) the lock was not held
-- Errors:  NOT_OWNED when not forced and the lock is free or held by
--          another owner (nothing changed).
--
-- Waiters BLPOP the signal list, so a release wakes one of them at once;
-- the list is trimmed and expires, so it never grows or leaks.
local cur = redis.call('GET', KEYS[1])
if ARGV[2] ~= '1' and cur ~= ARGV[1] then
	if cur == false then
		return fail('NOT_OWNED', 'lock is not held')
	end
	return fail('NOT_OWNED', 'lock is held by another owner')
end
if cur == false then
	return 0
end
redis.call('DEL', KEYS[1])
redis.call('LPUSH', KEYS[2], '1')
redis.call('LTRIM', KEYS[2], 0, 15)
redis.call('PEXPIRE', KEYS[2], ARGV[3])
return 1
