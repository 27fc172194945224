-- queue_complete.lua: finish a running task with its result (possibly
-- empty: a task that returns nothing is done all the same).
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
-- ARGV: 1 id, 2 lease token, 3 result bytes
-- Returns: the time the result will be forgotten, ms.
-- Errors: NOT_OWNED when the token is stale (another worker owns the task
--         now, or it finished): nothing changes.
-- @include queue
local id = ARGV[1]
local e = not_owner(id, ARGV[2])
if e then return e end
local now = now_ms()
local ttl = task_conf(id).ttl
redis.call('ZREM', KEYS[3], id)
redis.call('LREM', KEYS[2], 1, id)
redis.call('HDEL', KEYS[15], id)
redis.call('HDEL', KEYS[10], id)
redis.call('HDEL', KEYS[12], id)
redis.call('HSET', KEYS[9], id, 'done')
redis.call('HSET', KEYS[11], id, ARGV[3])
redis.call('ZADD', KEYS[8], now + ttl, id)
redis.call('DEL', KEYS[17])
redis.call('RPUSH', KEYS[17], 1)
redis.call('PEXPIRE', KEYS[17], ttl)
return now + ttl
