-- queue_requeue.lua: take a task off the dead-letter list and queue it
-- again with fresh attempts and a fresh deadline (same timeout).
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
-- ARGV: 1 id, 2 wake list cap
-- Returns: the new deadline in ms (0 = none).
-- Errors: NOT_FOUND when the id is not on the dead-letter list.
-- @include queue
local id, cap = ARGV[1], argint(ARGV[2])
if cap == nil or cap < 1 then
	return fail('BAD_ARGUMENT', 'bad cap')
end
if redis.call('HGET', KEYS[9], id) ~= 'failed' or
    redis.call('LREM', KEYS[5], 1, id) == 0 then
	return fail('NOT_FOUND', 'task ' .. id .. ' is not dead-lettered')
end
local now = now_ms()
local c = task_conf(id)
c.deadline = 0
redis.call('ZREM', KEYS[8], id)
if c.timeout > 0 then
	c.deadline = now + c.timeout
	redis.call('ZADD', KEYS[8], c.deadline + c.ttl, id)
end
task_conf_set(id, c)
redis.call('HSET', KEYS[9], id, 'pending')
redis.call('HSET', KEYS[14], id, 0)
redis.call('HDEL', KEYS[12], id)
redis.call('HDEL', KEYS[16], id)
redis.call('DEL', KEYS[17])
redis.call('RPUSH', KEYS[1], id)
redis.call('LPUSH', KEYS[6], 1)
redis.call('LTRIM', KEYS[6], 0, cap - 1)
return c.deadline
