-- queue_cancel.lua: withdraw a task that no worker has started: it is
-- marked failed ("cancelled").  A running or finished task is left alone.
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
-- ARGV: 1 id
-- Returns: the state the task was in ("pending" means it was cancelled).
-- Errors: NOT_FOUND when there is no such task.
-- @include queue
local id = ARGV[1]
local st = redis.call('HGET', KEYS[9], id)
if not st then
	return fail('NOT_FOUND', 'no task ' .. id)
end
if st ~= 'pending' then
	return st
end
local now = now_ms()
local ttl = task_conf(id).ttl
redis.call('LREM', KEYS[1], 1, id)
redis.call('ZREM', KEYS[4], id)
redis.call('HSET', KEYS[9], id, 'failed')
redis.call('HSET', KEYS[12], id, 'cancelled')
redis.call('HDEL', KEYS[10], id)
redis.call('ZADD', KEYS[8], now + ttl, id)
redis.call('DEL', KEYS[17])
redis.call('RPUSH', KEYS[17], 1)
redis.call('PEXPIRE', KEYS[17], ttl)
return st
