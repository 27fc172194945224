-- queue.lua: the task queue: submit, take, heartbeat, progress,
-- complete, fail with retries, reap, cancel, status and the dead-letter
-- list.
--
-- Every queue function takes the same nine keys, all sharing the hash tag
-- {<prefix>:q:<name>} of one queue name, and some a tenth:
--   1 queue   LIST pending ids, FIFO (a take pops the oldest)
--   2 leases  ZSET running id -> lease end ms
--   3 delayed ZSET id -> retry due ms
--   4 dead    LIST dead-letter ids
--   5 wake    LIST wake-up tokens
--   6 workers ZSET worker -> alive ms
--   7 expire  ZSET id -> forget at ms
--   8 task    HASH id -> the task record (TASK_FMT below)
--   9 data    HASH id -> payload bytes, replaced by the result when done
--   10 (some functions) notify LIST of one task, pushed when it finishes
-- A task is one record and one data entry: a state change reads and
-- writes the record once, where the settings, state, attempts, token,
-- progress and error each had a HASH of their own.
local Q_QUEUE, Q_LEASES, Q_DELAYED, Q_DEAD, Q_WAKE, Q_WORKERS, Q_EXPIRE,
    Q_TASK, Q_DATA, Q_NOTIFY = 1, 2, 3, 4, 5, 6, 7, 8, 9, 10

-- The task record, struct little endian: state c1 (p pending, r running,
-- d done, f failed), runs started I4, max attempts I4, result TTL ms d,
-- timeout ms d (0: none), deadline ms d (0: none), when it is forgotten
-- ms d (its score in KEYS[Q_EXPIRE]; 0: not there), progress current d
-- and total d, the lease token (its length B, then it; empty unless
-- running) and the last error (its length I4, then it; empty: none).
local TASK_FMT = '<c1I4I4ddddddBc0I4c0'
local TASK_STATE = { p = 'pending', r = 'running', d = 'done', f = 'failed' }

-- Task id's record as a table, or nil when there is none.
local function task_get(id)
	local s = redis.call('HGET', KEYS[Q_TASK], id)
	if not s then
		return nil
	end
	local st, n, maxa, ttl, timeout, deadline, exp, cur, total, token,
	    err = struct.unpack(TASK_FMT, s)
	return { st = st, n = n, maxa = maxa, ttl = ttl, timeout = timeout,
	    deadline = deadline, exp = exp, cur = cur, total = total,
	    token = token, err = err }
end

local function task_save(id, t)
	redis.call('HSET', KEYS[Q_TASK], id, struct.pack(TASK_FMT, t.st, t.n,
	    t.maxa, t.ttl, t.timeout, t.deadline, t.exp, t.cur, t.total,
	    #t.token, t.token, #t.err, t.err))
end

-- Forget task id at ms (0: not by time), in KEYS[Q_EXPIRE] and its
-- record (saved by the caller).
local function task_expire(id, t, at)
	if at > 0 then
		redis.call('ZADD', KEYS[Q_EXPIRE], at, id)
	elseif t.exp > 0 then
		redis.call('ZREM', KEYS[Q_EXPIRE], id)
	end
	t.exp = at
end

-- Forget task id: its record and data (the caller drops its entries).
local function task_forget(id)
	redis.call('HDEL', KEYS[Q_TASK], id)
	redis.call('HDEL', KEYS[Q_DATA], id)
end

-- Tell the task's waiters it finished (KEYS[Q_NOTIFY]), for ttl ms.  A
-- task finishes once per submission, and submit and requeue empty the
-- list, so it never holds more than one entry.
local function task_notify(ttl)
	redis.call('RPUSH', KEYS[Q_NOTIFY], 1)
	redis.call('PEXPIRE', KEYS[Q_NOTIFY], ttl)
end

-- The last error of a task whose deadline passed before its next run:
-- n runs started so far, last the error of the last one ('' or nil:
-- none).
local function deadline_error(n, last)
	if n == 0 or not last or last == '' then
		return 'TIMEOUT deadline passed before the task started'
	end
	return 'TIMEOUT deadline passed before run ' .. (n + 1) ..
	    '; last error: ' .. last
end

-- Task id when token holds its lease, else nil and an error reply.
local function owned(id, token)
	local t = task_get(id)
	if not t or t.st ~= 'r' or t.token ~= token then
		return nil, fail('NOT_OWNED', 'task ' .. id ..
		    ' is not leased with this token')
	end
	return t
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
	local old = task_get(id)
	local st = old and old.st
	if (st == 'p' or st == 'r') and not (old.exp > 0 and old.exp <= now) then
		return fail('BUSY', 'task ' .. id .. ' is ' .. TASK_STATE[st])
	end
	if st == 'p' then
		-- expired before anyone ran it: drop its old queue entry
		redis.call('LREM', KEYS[Q_QUEUE], 1, id)
		redis.call('ZREM', KEYS[Q_DELAYED], id)
	elseif st == 'f' then
		redis.call('LREM', KEYS[Q_DEAD], 1, id)
	end
	local deadline = timeout > 0 and now + timeout or 0
	local t = { st = 'p', n = 0, maxa = maxa, ttl = ttl,
	    timeout = timeout, deadline = deadline, exp = old and old.exp or 0,
	    cur = 0, total = 0, token = '', err = '' }
	task_expire(id, t, deadline > 0 and deadline + ttl or 0)
	task_save(id, t)
	redis.call('HSET', KEYS[Q_DATA], id, ARGV[2])
	if old then
		-- a previous task's (one forgotten has no list left: it
		-- expired when the task was forgotten)
		redis.call('DEL', KEYS[Q_NOTIFY])
	end
	redis.call('RPUSH', KEYS[Q_QUEUE], id)
	wake(KEYS[Q_WAKE], cap)
	return deadline
end)

-- queue_take: pop the oldest pending task and give it a lease, in one
-- atomic step, so no task is ever taken without a lease the reaper can
-- see.
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
	if #token > 255 then
		return fail('BAD_ARGUMENT', 'lease token over 255 bytes')
	end
	local now = now_ms()
	for _ = 1, skips do
		local id = redis.call('LPOP', KEYS[Q_QUEUE])
		if not id then
			return {0}
		end
		local t = task_get(id)
		if t and t.st == 'p' then
			if t.deadline > 0 and now >= t.deadline then
				t.st = 'f'
				t.err = deadline_error(t.n, t.err)
				task_expire(id, t, now + t.ttl)
				task_save(id, t)
			else
				t.n = t.n + 1
				t.st = 'r'
				t.token = token
				task_expire(id, t, 0)
				task_save(id, t)
				redis.call('ZADD', KEYS[Q_LEASES], now + lease, id)
				-- this task's wake-up token is no longer needed
				redis.call('LPOP', KEYS[Q_WAKE])
				return {1, id, redis.call('HGET', KEYS[Q_DATA], id) or '',
				    t.n, t.deadline, now + lease, t.maxa}
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
	local t, e = owned(id, ARGV[2])
	if not t then return e end
	local until_ms = now_ms() + lease
	redis.call('ZADD', KEYS[Q_LEASES], 'XX', until_ms, id)
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
	local t, e = owned(id, ARGV[2])
	if not t then return e end
	local now = now_ms()
	if t.deadline > 0 and now >= t.deadline then
		return fail('TIMEOUT', 'task ' .. id .. ' passed its deadline')
	end
	t.cur, t.total = cur, total
	task_save(id, t)
	redis.call('ZADD', KEYS[Q_LEASES], 'XX', now + lease, id)
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
	local t, e = owned(id, ARGV[2])
	if not t then return e end
	local now = now_ms()
	redis.call('ZREM', KEYS[Q_LEASES], id)
	t.st, t.token, t.err = 'd', '', ''
	task_expire(id, t, now + t.ttl)
	task_save(id, t)
	redis.call('HSET', KEYS[Q_DATA], id, ARGV[3])	-- the payload goes
	task_notify(t.ttl)
	return now + t.ttl
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
	local t, e = owned(id, ARGV[2])
	if not t then return e end
	local now = now_ms()
	redis.call('ZREM', KEYS[Q_LEASES], id)
	t.token, t.err = '', ARGV[3]
	local late = t.deadline > 0 and now + delay >= t.deadline
	if t.n < t.maxa and not late then
		t.st = 'p'
		if t.deadline > 0 then
			task_expire(id, t, t.deadline + t.ttl)
		end
		task_save(id, t)
		redis.call('ZADD', KEYS[Q_DELAYED], now + delay, id)
		return {0, now + delay}
	end
	t.st = 'f'
	task_expire(id, t, now + t.ttl)
	task_notify(t.ttl)
	if t.n < t.maxa then
		t.err = deadline_error(t.n, ARGV[3])
		task_save(id, t)
		return {2, 0}
	end
	task_save(id, t)
	redis.call('RPUSH', KEYS[Q_DEAD], id)
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

	for _, id in ipairs(redis.call('ZRANGEBYSCORE', KEYS[Q_DELAYED], '-inf',
	    now, 'LIMIT', 0, batch)) do
		redis.call('ZREM', KEYS[Q_DELAYED], id)
		local t = task_get(id)
		if t and t.st == 'p' then
			redis.call('RPUSH', KEYS[Q_QUEUE], id)
			promoted = promoted + 1
		end
	end

	for _, id in ipairs(redis.call('ZRANGEBYSCORE', KEYS[Q_LEASES], '-inf',
	    now, 'LIMIT', 0, batch)) do
		redis.call('ZREM', KEYS[Q_LEASES], id)
		local t = task_get(id)
		if t and t.st == 'r' then
			t.token = ''
			t.err = 'lease expired: worker lost (run ' .. t.n .. ' of ' ..
			    t.maxa .. ')'
			if t.n >= t.maxa then
				t.st = 'f'
				redis.call('RPUSH', KEYS[Q_DEAD], id)
				task_expire(id, t, now + t.ttl)
				dead = dead + 1
			else
				t.st = 'p'
				redis.call('LPUSH', KEYS[Q_QUEUE], id)
				if t.deadline > 0 then
					task_expire(id, t, t.deadline + t.ttl)
				end
				requeued = requeued + 1
			end
			task_save(id, t)
		end
	end
	for _ = 1, math.min(promoted + requeued, cap) do
		wake(KEYS[Q_WAKE], cap)
	end

	for _, id in ipairs(redis.call('ZRANGEBYSCORE', KEYS[Q_EXPIRE], '-inf',
	    now, 'LIMIT', 0, batch)) do
		redis.call('ZREM', KEYS[Q_EXPIRE], id)
		local t = task_get(id)
		if not t or t.st ~= 'r' then
			if t and t.st == 'p' then
				redis.call('LREM', KEYS[Q_QUEUE], 1, id)
				redis.call('ZREM', KEYS[Q_DELAYED], id)
			elseif t and t.st == 'f' then
				redis.call('LREM', KEYS[Q_DEAD], 1, id)
			end
			task_forget(id)
			forgotten = forgotten + 1
		end
	end

	if wid ~= '' then
		if wttl > 0 then
			redis.call('ZADD', KEYS[Q_WORKERS], now + wttl, wid)
		else
			redis.call('ZREM', KEYS[Q_WORKERS], wid)
		end
	end
	for _, w in ipairs(redis.call('ZRANGEBYSCORE', KEYS[Q_WORKERS], '-inf',
	    now, 'LIMIT', 0, batch)) do
		redis.call('ZREM', KEYS[Q_WORKERS], w)
	end
	local live = redis.call('ZCOUNT', KEYS[Q_WORKERS], '(' .. now, '+inf')

	local next_due = -1
	local first = redis.call('ZRANGE', KEYS[Q_DELAYED], 0, 0, 'WITHSCORES')
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
	local t = task_get(id)
	if not t then
		return fail('NOT_FOUND', 'no task ' .. id)
	end
	if t.st ~= 'p' then
		return TASK_STATE[t.st]
	end
	local now = now_ms()
	redis.call('LREM', KEYS[Q_QUEUE], 1, id)
	redis.call('ZREM', KEYS[Q_DELAYED], id)
	t.st, t.err = 'f', 'cancelled'
	task_expire(id, t, now + t.ttl)
	task_save(id, t)
	redis.call('HDEL', KEYS[Q_DATA], id)
	task_notify(t.ttl)
	return 'pending'
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
	local t = task_get(id)
	if not t or (t.exp > 0 and t.exp <= now) then
		return fail('NOT_FOUND', 'no task ' .. id)
	end
	if t.st == 'p' and t.deadline > 0 and now >= t.deadline then
		redis.call('LREM', KEYS[Q_QUEUE], 1, id)
		redis.call('ZREM', KEYS[Q_DELAYED], id)
		t.st = 'f'
		t.err = deadline_error(t.n, t.err)
		task_expire(id, t, now + t.ttl)
		task_save(id, t)
		task_notify(t.ttl)
	end
	local r = {TASK_STATE[t.st],
	    t.st == 'd' and (redis.call('HGET', KEYS[Q_DATA], id) or '') or
	    false,
	    t.err ~= '' and t.err or false, t.n, t.cur, t.total, t.deadline}
	if del and (t.st == 'd' or t.st == 'f') then
		-- as the reaper forgets an expired task
		if t.st == 'f' then
			redis.call('LREM', KEYS[Q_DEAD], 1, id)
		end
		task_expire(id, t, 0)
		task_forget(id)
		redis.call('DEL', KEYS[Q_NOTIFY])
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
	return {redis.call('LLEN', KEYS[Q_DEAD]),
	    redis.call('LRANGE', KEYS[Q_DEAD], start, start + count - 1)}
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
	local t = task_get(id)
	if not t or t.st ~= 'f' or
	    redis.call('LREM', KEYS[Q_DEAD], 1, id) == 0 then
		return fail('NOT_FOUND', 'task ' .. id .. ' is not dead-lettered')
	end
	local now = now_ms()
	t.deadline = t.timeout > 0 and now + t.timeout or 0
	task_expire(id, t, t.deadline > 0 and t.deadline + t.ttl or 0)
	t.st, t.n, t.err, t.cur, t.total = 'p', 0, '', 0, 0
	task_save(id, t)
	redis.call('DEL', KEYS[Q_NOTIFY])
	redis.call('RPUSH', KEYS[Q_QUEUE], id)
	wake(KEYS[Q_WAKE], cap)
	return t.deadline
end)
