-- queue_progress.lua: record a running task's progress (current, total)
-- for the submitter; counts as a heartbeat.
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
-- ARGV: 1 id, 2 lease token, 3 current, 4 total, 5 lease ms
-- Returns: the new lease end in ms.
-- Errors: NOT_OWNED for a stale token; TIMEOUT once the task's deadline
--         has passed (nothing is recorded then).
-- @include queue
local id = ARGV[1]
local cur, total, lease = argint(ARGV[3]), argint(ARGV[4]), argint(ARGV[5])
if cur == nil or total == nil or lease == nil or lease < 1 then
	return fail('BAD_ARGUMENT', 'bad progress or lease')
end
local e = not_owner(id, ARGV[2])
if e then return e end
local now = now_ms()
local deadline = task_conf(id).deadline
if deadline > 0 and now >= deadline then
	return fail('TIMEOUT', 'task ' .. id .. ' passed its deadline')
end
redis.call('HSET', KEYS[16], id, cur .. ':' .. total)
redis.call('ZADD', KEYS[3], 'XX', now + lease, id)
return now + lease
