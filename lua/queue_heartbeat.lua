-- queue_heartbeat.lua: extend the lease of a running task.
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
-- ARGV: 1 id, 2 lease token, 3 lease ms
-- Returns: the new lease end in ms.
-- Errors: NOT_OWNED when the token is stale (the lease expired and the
--         task went back to the queue, or it finished).
-- @include queue
local id, lease = ARGV[1], argint(ARGV[3])
if lease == nil or lease < 1 then
	return fail('BAD_ARGUMENT', 'bad lease')
end
local e = not_owner(id, ARGV[2])
if e then return e end
local until_ms = now_ms() + lease
redis.call('ZADD', KEYS[3], 'XX', until_ms, id)
return until_ms
