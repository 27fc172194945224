-- lock_pool.lua: change the member set of a lock pool (a named set of
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
