-- queue_take.lua: move the oldest pending task to the processing list
-- (LMOVE) and give it a lease, in one atomic step, so no task is ever
-- moved without a lease the reaper can see.
--
-- KEYS (every queue script takes the same sixteen keys, all sharing the
-- hash tag {<prefix>:q:<name>} of one queue name, and some a seventeenth):
--   1 queue  LIST pending ids, FIFO    9 state     HASH id -> state word
--   2 processing LIST running ids     10 payload   HASH id -> bytes
--   3 leases ZSET id -> lease end ms  11 result    HASH id -> bytes
--   4 delayed ZSET id -> retry due ms 12 error     HASH id -> last error
--   5 dead   LIST dead-letter ids     13 conf      HASH id -> "max:ttl:timeout:deadline"
--   6 wake   LIST wake-up tokens      14 attempts  HASH id -> runs started
--   7 workers ZSET worker -> alive ms 15 token     HASH id -> lease token
--   8 expire ZSET id -> forget at ms  16 progress  HASH id -> "current:total"
--   17 (some scripts) notify LIST of one task, pushed when it finishes
-- ARGV: 1 lease token, 2 lease ms, 3 max stale entries to skip
-- Returns: {0} when the queue is empty, else
--          {1, id, payload, attempt, deadline ms, lease end ms, max attempts}
-- Entries whose task is gone or not pending are dropped; a task whose
-- deadline passed before it started is marked failed (TIMEOUT) instead.
-- @include queue
local token, lease, skips = ARGV[1], argint(ARGV[2]), argint(ARGV[3])
if lease == nil or lease < 1 or skips == nil or skips < 1 then
	return fail('BAD_ARGUMENT', 'bad lease or batch')
end
local now = now_ms()
for _ = 1, skips do
	local id = redis.call('LMOVE', KEYS[1], KEYS[2], 'LEFT', 'RIGHT')
	if not id then
		return {0}
	end
	local st = redis.call('HGET', KEYS[9], id)
	local c, stored = task_conf(id)
	if st ~= 'pending' or not stored then
		redis.call('LREM', KEYS[2], -1, id)
	else
		local maxa, ttl, deadline = c.maxa, c.ttl, c.deadline
		if deadline > 0 and now >= deadline then
			redis.call('LREM', KEYS[2], -1, id)
			redis.call('HSET', KEYS[9], id, 'failed')
			redis.call('HSET', KEYS[12], id, deadline_error(
			    tonumber(redis.call('HGET', KEYS[14], id) or '0'),
			    redis.call('HGET', KEYS[12], id)))
			redis.call('ZADD', KEYS[8], now + ttl, id)
		else
			local n = redis.call('HINCRBY', KEYS[14], id, 1)
			redis.call('HSET', KEYS[9], id, 'running')
			redis.call('HSET', KEYS[15], id, token)
			redis.call('ZADD', KEYS[3], now + lease, id)
			redis.call('ZREM', KEYS[8], id)
			-- this task's wake-up token is no longer needed
			redis.call('LPOP', KEYS[6])
			return {1, id, redis.call('HGET', KEYS[10], id) or '', n,
			    deadline, now + lease, maxa}
		end
	end
end
return {0}
