-- queue_dead.lua: one page of the dead-letter list (oldest first).
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
-- ARGV: 1 start index, 2 count (the caller bounds it by its batch)
-- Returns: {total length, {id...}}
local start, count = argint(ARGV[1]), argint(ARGV[2])
if start == nil or start < 0 or count == nil or count < 1 then
	return fail('BAD_ARGUMENT', 'bad start or count')
end
return {redis.call('LLEN', KEYS[5]),
    redis.call('LRANGE', KEYS[5], start, start + count - 1)}
