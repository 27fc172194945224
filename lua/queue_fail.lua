-- queue_fail.lua: a run of a task failed: retry it after a delay (the
-- caller computes the exponential backoff with jitter) or, after its last
-- attempt, mark it failed and append it to the dead-letter list; a task
-- whose retry would be due at or after its deadline is failed at once
-- (no run could start: take fails it), not dead-lettered.  A failed task
-- is forgotten result TTL after now, its dead-letter entry with it.
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
-- ARGV: 1 id, 2 lease token, 3 error message, 4 retry delay ms
-- Returns: {0, due ms} when it will be retried, {1, 0} when dead-lettered,
--          {2, 0} when failed on its deadline.
-- Errors: NOT_OWNED when the token is stale: nothing changes.
-- @include queue
local id, delay = ARGV[1], argint(ARGV[4])
if delay == nil or delay < 0 then
	return fail('BAD_ARGUMENT', 'bad delay')
end
local e = not_owner(id, ARGV[2])
if e then return e end
local now = now_ms()
local c = task_conf(id)
local maxa, ttl, deadline = c.maxa, c.ttl, c.deadline
local n = tonumber(redis.call('HGET', KEYS[14], id) or '0')
redis.call('ZREM', KEYS[3], id)
redis.call('LREM', KEYS[2], 1, id)
redis.call('HDEL', KEYS[15], id)
redis.call('HSET', KEYS[12], id, ARGV[3])
local late = deadline > 0 and now + delay >= deadline
if n < maxa and not late then
	redis.call('HSET', KEYS[9], id, 'pending')
	redis.call('ZADD', KEYS[4], now + delay, id)
	if deadline > 0 then
		redis.call('ZADD', KEYS[8], deadline + ttl, id)
	end
	return {0, now + delay}
end
redis.call('HSET', KEYS[9], id, 'failed')
redis.call('ZADD', KEYS[8], now + ttl, id)
redis.call('DEL', KEYS[17])
redis.call('RPUSH', KEYS[17], 1)
redis.call('PEXPIRE', KEYS[17], ttl)
if n < maxa then
	redis.call('HSET', KEYS[12], id, deadline_error(n, ARGV[3]))
	return {2, 0}
end
redis.call('RPUSH', KEYS[5], id)
return {1, 0}
