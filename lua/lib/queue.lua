-- queue.lua: helpers of the task-queue scripts (lua/queue_*.lua),
-- included with "-- @include queue".  Those scripts share the key list
-- documented at the top of each; these helpers use two of them:
--   KEYS[13] conf   HASH id -> "max_attempts:result_ttl_ms:timeout_ms:
--                   deadline_ms" (0: no timeout, no deadline)
--   KEYS[15] token  HASH id -> the running task's lease token

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
