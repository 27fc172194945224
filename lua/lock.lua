-- lock.lua: the distributed lock: acquire (re-entrant for the same
-- owner), extend, update, release with a wake-up signal, conditional
-- setters, and lock pools.

-- The NOT_OWNED error for a lock whose value is cur (false: free).
local function not_held(cur)
	return fail('NOT_OWNED', cur == false and 'lock is not held' or
	    'lock is held by another owner')
end

-- Give key a TTL of ms, or none when ms <= 0.
local function set_ttl(key, ms)
	if ms > 0 then
		redis.call('PEXPIRE', key, ms)
	else
		redis.call('PERSIST', key)
	end
end

-- lock_acquire: take a lock (SET NX with a TTL) or, re-entrant, take
-- it again for the same owner; every grant draws a new fence number.
--
-- KEYS[1]: the lock, "{prefix:lock:name}" (a string: the owner value)
-- KEYS[2]: its fence counter, "{prefix:lock:name}:fence" (never expires,
--          and starts from the Redis clock when missing, so fences only
--          grow for a name, also across a Redis that lost its data)
-- ARGV[1]: owner value
-- ARGV[2]: TTL in milliseconds; 0 or negative: no expiry
-- ARGV[3]: "1" re-entrant: the current owner takes it again and its TTL
--          is refreshed (set to ARGV[2]); "0" plain SET NX
-- Returns: {1, fence} when granted; {0, pttl} when another owner holds it
--          (pttl: the holder's remaining TTL in ms, -1 = no expiry)
-- Errors:  BAD_ARGUMENT when the TTL is not an integer.
register('lock_acquire', WRITE, function()
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
		set_ttl(KEYS[1], ttl)
	end
	return {1, next_fence(KEYS[2])}
end)

-- lock_release: release a lock (compare-and-delete by the owner, or
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
register('lock_release', WRITE, function()
	local cur = redis.call('GET', KEYS[1])
	if ARGV[2] ~= '1' and cur ~= ARGV[1] then
		return not_held(cur)
	end
	if cur == false then
		return 0
	end
	redis.call('DEL', KEYS[1])
	wake(KEYS[2], 16)
	redis.call('PEXPIRE', KEYS[2], ARGV[3])
	return 1
end)

-- lock_extend: renew a lock, only by its owner (redis-py's
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
register('lock_extend', WRITE, function()
	local ms = argint(ARGV[2])
	if ms == nil then
		return fail('BAD_ARGUMENT', 'ttl is not an integer')
	end
	local cur = redis.call('GET', KEYS[1])
	if cur ~= ARGV[1] then
		return not_held(cur)
	end
	if ARGV[3] == '1' then
		set_ttl(KEYS[1], ms)
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
end)

-- lock_update: set a lock's owner and TTL unconditionally (a
-- heartbeat that does not check ownership; it takes the lock from anyone).
--
-- KEYS[1]: the lock, "{prefix:lock:name}"
-- ARGV[1]: owner value
-- ARGV[2]: TTL in milliseconds; 0 or negative: no expiry
-- Returns: 1
-- Errors:  BAD_ARGUMENT when the TTL is not an integer.
register('lock_update', WRITE, function()
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
end)

-- lock_get: read a lock: its owner value and remaining TTL, in one
-- atomic step (is_locked, lock_value and key_status use it).
--
-- KEYS[1]: the lock, "{prefix:lock:name}"
-- ARGV:    none
-- Returns: {value or nil, pttl}; pttl is -2 when the key is missing and
--          -1 when it has no expiry.
-- Errors:  none of ours (a key of another type answers WRONGTYPE).
register('lock_get', READ, function()
	return {redis.call('GET', KEYS[1]), redis.call('PTTL', KEYS[1])}
end)

-- lock_cond: the conditional setters and deleters setgt/.../setne and
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
register('lock_cond', WRITE, function()
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
end)

-- lock_pool: change the member set of a lock pool (a named set of
-- lock names), at most one batch of names per call.
--
-- KEYS[1]: the pool's member set, "{prefix:lockpool:pool}"
-- KEYS[2]: assign's staging set, "{prefix:lockpool:pool}:staging:<token>"
--          (a random token per assign, so concurrent assigns do not mix)
-- ARGV[1]: op:
--          add NAME...     SADD to the pool; returns how many were new
--          remove NAME...  SREM; returns how many were members
--          stage NAME...   SADD to the staging set (expires after
--                          ARGV[2] ms, so an abandoned assign leaks
--                          nothing); returns the staging set's size
--          commit          the staging set replaces the pool (an empty or
--                          missing one empties it); returns the pool size
--          clear           empty the pool; returns 1 if it had members
-- ARGV[2]: stage: staging lifetime in ms; otherwise the first name
-- Errors:  BAD_ARGUMENT on an unknown op.
register('lock_pool', WRITE, function()
	local op = ARGV[1]
	if op == 'add' or op == 'remove' then
		local n = 0
		for i = 2, #ARGV do
			if op == 'add' then
				n = n + redis.call('SADD', KEYS[1], ARGV[i])
			else
				n = n + redis.call('SREM', KEYS[1], ARGV[i])
			end
		end
		return n
	elseif op == 'stage' then
		local ms = argint(ARGV[2])
		if ms == nil or ms <= 0 then
			return fail('BAD_ARGUMENT', 'staging lifetime must be > 0')
		end
		for i = 3, #ARGV do
			redis.call('SADD', KEYS[2], ARGV[i])
		end
		if redis.call('EXISTS', KEYS[2]) == 1 then
			redis.call('PEXPIRE', KEYS[2], ms)
		end
		return redis.call('SCARD', KEYS[2])
	elseif op == 'commit' then
		-- UNLINK first: RENAME would free a large old set synchronously
		redis.call('UNLINK', KEYS[1])
		if redis.call('EXISTS', KEYS[2]) == 1 then
			redis.call('RENAME', KEYS[2], KEYS[1])
			redis.call('PERSIST', KEYS[1])
		end
		return redis.call('SCARD', KEYS[1])
	elseif op == 'clear' then
		return redis.call('UNLINK', KEYS[1])
	end
	return fail('BAD_ARGUMENT', 'unknown lock pool op ' .. tostring(op))
end)
