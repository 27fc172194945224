-- queue_status.lua: read a task's state, result, last error, attempts and
-- progress; optionally forget a finished task once read.  A pending task
-- whose deadline has passed is failed here and now (as take would fail
-- it), so no read shows it pending after its deadline.
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
-- ARGV: 1 id, 2 delete once read (0/1; only a done or failed task)
-- Returns: {state, result or nil, error or nil, attempts, current, total,
--           deadline ms}
-- Errors: NOT_FOUND when there is no such task (never submitted, expired
--         or deleted).
-- @include queue
local id, del = ARGV[1], ARGV[2] == '1'
local now = now_ms()
local st = redis.call('HGET', KEYS[9], id)
local exp = redis.call('ZSCORE', KEYS[8], id)
if not st or (exp and tonumber(exp) <= now) then
	return fail('NOT_FOUND', 'no task ' .. id)
end
local c = task_conf(id)
if st == 'pending' and c.deadline > 0 and now >= c.deadline then
	st = 'failed'
	redis.call('LREM', KEYS[1], 1, id)
	redis.call('ZREM', KEYS[4], id)
	redis.call('HSET', KEYS[9], id, st)
	redis.call('HSET', KEYS[12], id, deadline_error(
	    tonumber(redis.call('HGET', KEYS[14], id) or '0'),
	    redis.call('HGET', KEYS[12], id)))
	redis.call('ZADD', KEYS[8], now + c.ttl, id)
	redis.call('DEL', KEYS[17])
	redis.call('RPUSH', KEYS[17], 1)
	redis.call('PEXPIRE', KEYS[17], c.ttl)
end
local prog = redis.call('HGET', KEYS[16], id) or '0:0'
local cur, total = string.match(prog, '^(%-?%d+):(%-?%d+)$')
local r = {st, redis.call('HGET', KEYS[11], id) or false,
    redis.call('HGET', KEYS[12], id) or false,
    tonumber(redis.call('HGET', KEYS[14], id) or '0'),
    tonumber(cur or 0), tonumber(total or 0),
    c.deadline}
if del and (st == 'done' or st == 'failed') then
	-- the same fields the reaper forgets for an expired task
	if st == 'failed' then
		redis.call('LREM', KEYS[5], 1, id)
	end
	redis.call('ZREM', KEYS[8], id)
	for k = 9, 16 do
		redis.call('HDEL', KEYS[k], id)
	end
	redis.call('DEL', KEYS[17])
end
return r
