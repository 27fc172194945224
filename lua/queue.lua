-- queue.lua: the task queue: submit, take, heartbeat, progress,
-- complete, fail with retries, reap, cancel, status and the dead-letter
-- list.
--
-- Every queue function takes the same sixteen keys, all sharing the hash
-- tag {<prefix>:q:<name>} of one queue name, and some a seventeenth:
--   1 queue  LIST pending ids, FIFO    9 state     HASH id -> state word
--   2 processing LIST running ids     10 payload   HASH id -> bytes
--   3 leases ZSET id -> lease end ms  11 result    HASH id -> bytes
--   4 delayed ZSET id -> retry due ms 12 error     HASH id -> last error
--   5 dead   LIST dead-letter ids     13 conf      HASH id -> "max:ttl:
--                                                   timeout:deadline" ms
--                                                   (0: no timeout, no
--                                                   deadline)
--   6 wake   LIST wake-up tokens      14 attempts  HASH id -> runs started
--   7 workers ZSET worker -> alive ms 15 token     HASH id -> lease token
--   8 expire ZSET id -> forget at ms  16 progress  HASH id -> "current:total"
--   17 (some functions) notify LIST of one task, pushed when it finishes

-- The settings of task id, defaults filled in; the stored text as a
-- second value (nil when the task has none).
local function task_conf(id)
	local s = redis.call('HGET', KEYS[13], id)
	local maxa, ttl, timeout, deadline
	if s then
		maxa, ttl, timeout, deadline = string.match(s,
		    '^(%d+):(%d+):(%d+):(%d+)$')
	end
	return {
		maxa = tonumber(maxa or 1), ttl = tonumber(ttl or 3600000),
		timeout = tonumber(timeout or 0),
		deadline = tonumber(deadline or 0)
	}, s
end

local function task_conf_set(id, c)
	redis.call('HSET', KEYS[13], id, c.maxa .. ':' .. c.ttl .. ':' ..
	    c.timeout .. ':' .. c.deadline)
end

-- The last error of a task whose deadline passed before its next run:
-- n runs started so far, last the error of the last one (or nil).
local function deadline_error(n, last)
	if n == 0 or not last then
		return 'TIMEOUT deadline passed before the task started'
	end
	return 'TIMEOUT deadline passed before run ' .. (n + 1) ..
	    '; last error: ' .. last
end

-- An error reply unless token holds the lease on task id, else nil.
local function not_owner(id, token)
	if redis.call('HGET', KEYS[15], id) ~= token then
		return fail('NOT_OWNED', 'task ' .. id ..
		    ' is not leased with this token')
	end
	return nil
end


-- queue_submit: put a task at the tail of its queue (FIFO per name).
--
-- KEYS: the queue keys (see the top of this file)
-- ARGV: 1 id, 2 payload bytes, 3 timeout ms (0 = no deadline),
--       4 max attempts (>= 1), 5 result TTL ms (>= 1), 6 wake list cap
-- Returns: the task deadline in ms of the Redis clock (0 = none).
-- Errors: BUSY when a task with this id is pending or running;
--         BAD_ARGUMENT on a bad number.  A finished task with the same id
--         (done, failed, dead-lettered) is replaced.
register('queue_submit', WRITE, function()
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
	wake(KEYS[6], cap)
	return deadline
end)

-- queue_take: move the oldest pending task to the processing list
-- (LMOVE) and give it a lease, in one atomic step, so no task is ever
-- moved without a lease the reaper can see.
--
-- KEYS: the queue keys (see the top of this file)
-- ARGV: 1 lease token, 2 lease ms, 3 max stale entries to skip
-- Returns: {0} when the queue is empty, else
--          {1, id, payload, attempt, deadline ms, lease end ms, max attempts}
-- Entries whose task is gone or not pending are dropped; a task whose
-- deadline passed before it started is marked failed (TIMEOUT) instead.
register('queue_take', WRITE, function()
	local token, lease, skips = ARGV[1], argint(ARGV[2]), argint(ARGV[3])
	if lease == nil or lease < 1 or skips == nil or skips < 1 then
		return fail('BAD_ARGUMENT', 'bad lease or batch')
	end
	local now = now_ms()
	for _ = 1, skips do
		local id = redis.call('LMOVE', KEYS[1], KEYS[2], 'LEFT', 'RIGHT')
		if not id then
			return {0}
		end
		local st = redis.call('HGET', KEYS[9], id)
		local c, stored = task_conf(id)
		if st ~= 'pending' or not stored then
			redis.call('LREM', KEYS[2], -1, id)
		else
			local maxa, ttl, deadline = c.maxa, c.ttl, c.deadline
			if deadline > 0 and now >= deadline then
				redis.call('LREM', KEYS[2], -1, id)
				redis.call('HSET', KEYS[9], id, 'failed')
				redis.call('HSET', KEYS[12], id, deadline_error(
				    tonumber(redis.call('HGET', KEYS[14], id) or '0'),
				    redis.call('HGET', KEYS[12], id)))
				redis.call('ZADD', KEYS[8], now + ttl, id)
			else
				local n = redis.call('HINCRBY', KEYS[14], id, 1)
				redis.call('HSET', KEYS[9], id, 'running')
				redis.call('HSET', KEYS[15], id, token)
				redis.call('ZADD', KEYS[3], now + lease, id)
				redis.call('ZREM', KEYS[8], id)
				-- this task's wake-up token is no longer needed
				redis.call('LPOP', KEYS[6])
				return {1, id, redis.call('HGET', KEYS[10], id) or '', n,
				    deadline, now + lease, maxa}
			end
		end
	end
	return {0}
end)

-- queue_heartbeat: extend the lease of a running task.
--
-- KEYS: the queue keys (see the top of this file)
-- ARGV: 1 id, 2 lease token, 3 lease ms
-- Returns: the new lease end in ms.
-- Errors: NOT_OWNED when the token is stale (the lease expired and the
--         task went back to the queue, or it finished).
register('queue_heartbeat', WRITE, function()
	local id, lease = ARGV[1], argint(ARGV[3])
	if lease == nil or lease < 1 then
		return fail('BAD_ARGUMENT', 'bad lease')
	end
	local e = not_owner(id, ARGV[2])
	if e then return e end
	local until_ms = now_ms() + lease
	redis.call('ZADD', KEYS[3], 'XX', until_ms, id)
	return until_ms
end)

-- queue_progress: record a running task's progress (current, total)
-- for the submitter; counts as a heartbeat.
--
-- KEYS: the queue keys (see the top of this file)
-- ARGV: 1 id, 2 lease token, 3 current, 4 total, 5 lease ms
-- Returns: the new lease end in ms.
-- Errors: NOT_OWNED for a stale token; TIMEOUT once the task's deadline
--         has passed (nothing is recorded then).
register('queue_progress', WRITE, function()
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
end)

-- queue_complete: finish a running task with its result (possibly
-- empty: a task that returns nothing is done all the same).
--
-- KEYS: the queue keys (see the top of this file)
-- ARGV: 1 id, 2 lease token, 3 result bytes
-- Returns: the time the result will be forgotten, ms.
-- Errors: NOT_OWNED when the token is stale (another worker owns the task
--         now, or it finished): nothing changes.
register('queue_complete', WRITE, function()
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
end)

-- queue_fail: a run of a task failed: retry it after a delay (the
-- caller computes the exponential backoff with jitter) or, after its last
-- attempt, mark it failed and append it to the dead-letter list; a task
-- whose retry would be due at or after its deadline is failed at once
-- (no run could start: take fails it), not dead-lettered.  A failed task
-- is forgotten result TTL after now, its dead-letter entry with it.
--
-- KEYS: the queue keys (see the top of this file)
-- ARGV: 1 id, 2 lease token, 3 error message, 4 retry delay ms
-- Returns: {0, due ms} when it will be retried, {1, 0} when dead-lettered,
--          {2, 0} when failed on its deadline.
-- Errors: NOT_OWNED when the token is stale: nothing changes.
register('queue_fail', WRITE, function()
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
end)

-- queue_reap: the bounded housekeeping any worker or submitter runs:
-- move due retries to the queue, return tasks whose lease expired (their
-- worker died or stalled) to the head of the queue or, after their last
-- attempt, to the dead-letter list, forget expired results (a failed
-- task's dead-letter entry with it), and keep the registry of live
-- workers.
--
-- KEYS: the queue keys (see the top of this file)
-- ARGV: 1 batch (max items of each kind), 2 worker id ('' = none),
--       3 worker TTL ms (register until now + TTL; 0 = unregister),
--       4 wake list cap
-- Returns: {promoted, requeued, dead-lettered, forgotten,
--           ms until the next retry is due (-1 = none), live workers}
register('queue_reap', WRITE, function()
	local batch, wid, wttl, cap = argint(ARGV[1]), ARGV[2], argint(ARGV[3]),
	    argint(ARGV[4])
	if batch == nil or batch < 1 or wttl == nil or wttl < 0 or cap == nil or
	    cap < 1 then
		return fail('BAD_ARGUMENT', 'bad batch, worker TTL or cap')
	end
	local now = now_ms()
	local promoted, requeued, dead, forgotten = 0, 0, 0, 0
	local wake_n = 0

	for _, id in ipairs(redis.call('ZRANGEBYSCORE', KEYS[4], '-inf', now,
	    'LIMIT', 0, batch)) do
		redis.call('ZREM', KEYS[4], id)
		if redis.call('HGET', KEYS[9], id) == 'pending' then
			redis.call('RPUSH', KEYS[1], id)
			promoted = promoted + 1
		end
	end
	wake_n = wake_n + promoted

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
	wake_n = wake_n + requeued
	for _ = 1, math.min(wake_n, cap) do
		wake(KEYS[6], cap)
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
end)

-- queue_cancel: withdraw a task that no worker has started: it is
-- marked failed ("cancelled").  A running or finished task is left alone.
--
-- KEYS: the queue keys (see the top of this file)
-- ARGV: 1 id
-- Returns: the state the task was in ("pending" means it was cancelled).
-- Errors: NOT_FOUND when there is no such task.
register('queue_cancel', WRITE, function()
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
end)

-- queue_status: read a task's state, result, last error, attempts and
-- progress; optionally forget a finished task once read.  A pending task
-- whose deadline has passed is failed here and now (as take would fail
-- it), so no read shows it pending after its deadline.
--
-- KEYS: the queue keys (see the top of this file)
-- ARGV: 1 id, 2 delete once read (0/1; only a done or failed task)
-- Returns: {state, result or nil, error or nil, attempts, current, total,
--           deadline ms}
-- Errors: NOT_FOUND when there is no such task (never submitted, expired
--         or deleted).
register('queue_status', WRITE, function()
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
end)

-- queue_dead: one page of the dead-letter list (oldest first).
--
-- KEYS: the queue keys (see the top of this file)
-- ARGV: 1 start index, 2 count (the caller bounds it by its batch)
-- Returns: {total length, {id...}}
register('queue_dead', READ, function()
	local start, count = argint(ARGV[1]), argint(ARGV[2])
	if start == nil or start < 0 or count == nil or count < 1 then
		return fail('BAD_ARGUMENT', 'bad start or count')
	end
	return {redis.call('LLEN', KEYS[5]),
	    redis.call('LRANGE', KEYS[5], start, start + count - 1)}
end)

-- queue_requeue: take a task off the dead-letter list and queue it
-- again with fresh attempts and a fresh deadline (same timeout).
--
-- KEYS: the queue keys (see the top of this file)
-- ARGV: 1 id, 2 wake list cap
-- Returns: the new deadline in ms (0 = none).
-- Errors: NOT_FOUND when the id is not on the dead-letter list.
register('queue_requeue', WRITE, function()
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
	wake(KEYS[6], cap)
	return c.deadline
end)
