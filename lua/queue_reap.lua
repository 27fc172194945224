-- queue_reap.lua: the bounded housekeeping any worker or submitter runs:
-- move due retries to the queue, return tasks whose lease expired (their
-- worker died or stalled) to the head of the queue or, after their last
-- attempt, to the dead-letter list, forget expired results (a failed
-- task's dead-letter entry with it), and keep the registry of live
-- workers.
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
-- ARGV: 1 batch (max items of each kind), 2 worker id ('' = none),
--       3 worker TTL ms (register until now + TTL; 0 = unregister),
--       4 wake list cap
-- Returns: {promoted, requeued, dead-lettered, forgotten,
--           ms until the next retry is due (-1 = none), live workers}
-- @include queue
local batch, wid, wttl, cap = argint(ARGV[1]), ARGV[2], argint(ARGV[3]),
    argint(ARGV[4])
if batch == nil or batch < 1 or wttl == nil or wttl < 0 or cap == nil or
    cap < 1 then
	return fail('BAD_ARGUMENT', 'bad batch, worker TTL or cap')
end
local now = now_ms()
local promoted, requeued, dead, forgotten = 0, 0, 0, 0
local wake = 0

for _, id in ipairs(redis.call('ZRANGEBYSCORE', KEYS[4], '-inf', now,
    'LIMIT', 0, batch)) do
	redis.call('ZREM', KEYS[4], id)
	if redis.call('HGET', KEYS[9], id) == 'pending' then
		redis.call('RPUSH', KEYS[1], id)
		promoted = promoted + 1
	end
end
wake = wake + promoted

for _, id in ipairs(redis.call('ZRANGEBYSCORE', KEYS[3], '-inf', now,
    'LIMIT', 0, batch)) do
	redis.call('ZREM', KEYS[3], id)
	redis.call('LREM', KEYS[2], 1, id)
	redis.call('HDEL', KEYS[15], id)
	if redis.call('HGET', KEYS[9], id) == 'running' then
		local c = task_conf(id)
		local maxa, ttl, deadline = c.maxa, c.ttl, c.deadline
		local n = tonumber(redis.call('HGET', KEYS[14], id) or '0')
		redis.call('HSET', KEYS[12], id, 'lease expired: worker lost (run ' ..
		    n .. ' of ' .. maxa .. ')')
		if n >= maxa then
			redis.call('HSET', KEYS[9], id, 'failed')
			redis.call('RPUSH', KEYS[5], id)
			redis.call('ZADD', KEYS[8], now + ttl, id)
			dead = dead + 1
		else
			redis.call('HSET', KEYS[9], id, 'pending')
			redis.call('LPUSH', KEYS[1], id)
			if deadline > 0 then
				redis.call('ZADD', KEYS[8], deadline + ttl, id)
			end
			requeued = requeued + 1
		end
	end
end
wake = wake + requeued
if wake > 0 then
	for _ = 1, math.min(wake, cap) do
		redis.call('LPUSH', KEYS[6], 1)
	end
	redis.call('LTRIM', KEYS[6], 0, cap - 1)
end

for _, id in ipairs(redis.call('ZRANGEBYSCORE', KEYS[8], '-inf', now,
    'LIMIT', 0, batch)) do
	redis.call('ZREM', KEYS[8], id)
	local st = redis.call('HGET', KEYS[9], id)
	if st ~= 'running' then
		if st == 'pending' then
			redis.call('LREM', KEYS[1], 1, id)
			redis.call('ZREM', KEYS[4], id)
		elseif st == 'failed' then
			redis.call('LREM', KEYS[5], 1, id)
		end
		-- the same fields queue_status forgets on delete
		for k = 9, 16 do
			redis.call('HDEL', KEYS[k], id)
		end
		forgotten = forgotten + 1
	end
end

if wid ~= '' then
	if wttl > 0 then
		redis.call('ZADD', KEYS[7], now + wttl, wid)
	else
		redis.call('ZREM', KEYS[7], wid)
	end
end
for _, w in ipairs(redis.call('ZRANGEBYSCORE', KEYS[7], '-inf', now,
    'LIMIT', 0, batch)) do
	redis.call('ZREM', KEYS[7], w)
end
local live = redis.call('ZCOUNT', KEYS[7], '(' .. now, '+inf')

local next_due = -1
local first = redis.call('ZRANGE', KEYS[4], 0, 0, 'WITHSCORES')
if first[2] then
	next_due = math.max(0, tonumber(first[2]) - now)
end
return {promoted, requeued, dead, forgotten, next_due, live}
