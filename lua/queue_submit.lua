-- queue_submit.lua: put a task at the tail of its queue (FIFO per name).
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
-- ARGV: 1 id, 2 payload bytes, 3 timeout ms (0 = no deadline),
--       4 max attempts (>= 1), 5 result TTL ms (>= 1), 6 wake list cap
-- Returns: the task deadline in ms of the Redis clock (0 = none).
-- Errors: BUSY when a task with this id is pending or running;
--         BAD_ARGUMENT on a bad number.  A finished task with the same id
--         (done, failed, dead-lettered) is replaced.
-- @include queue
local id = ARGV[1]
local timeout, maxa, ttl, cap =
    argint(ARGV[3]), argint(ARGV[4]), argint(ARGV[5]), argint(ARGV[6])
if timeout == nil or timeout < 0 or maxa == nil or maxa < 1 or
    ttl == nil or ttl < 1 or cap == nil or cap < 1 then
	return fail('BAD_ARGUMENT', 'bad timeout, attempts or result TTL')
end
local now = now_ms()
local st = redis.call('HGET', KEYS[9], id)
local exp = redis.call('ZSCORE', KEYS[8], id)
local gone = exp and tonumber(exp) <= now
if st and not gone and (st == 'pending' or st == 'running') then
	return fail('BUSY', 'task ' .. id .. ' is ' .. st)
end
if st == 'pending' then
	-- expired before anyone ran it: drop its old queue entry
	redis.call('LREM', KEYS[1], 1, id)
	redis.call('ZREM', KEYS[4], id)
elseif st == 'failed' then
	redis.call('LREM', KEYS[5], 1, id)
end
local deadline = 0
if timeout > 0 then
	deadline = now + timeout
	redis.call('ZADD', KEYS[8], deadline + ttl, id)
else
	redis.call('ZREM', KEYS[8], id)
end
redis.call('HSET', KEYS[9], id, 'pending')
redis.call('HSET', KEYS[10], id, ARGV[2])
task_conf_set(id, {maxa = maxa, ttl = ttl, timeout = timeout,
    deadline = deadline})
redis.call('HSET', KEYS[14], id, 0)
if st then	-- fields a previous task with this id may have left
	redis.call('HDEL', KEYS[11], id)
	redis.call('HDEL', KEYS[12], id)
	redis.call('HDEL', KEYS[15], id)
	redis.call('HDEL', KEYS[16], id)
end
redis.call('DEL', KEYS[17])
redis.call('RPUSH', KEYS[1], id)
redis.call('LPUSH', KEYS[6], 1)
redis.call('LTRIM', KEYS[6], 0, cap - 1)
return deadline
