-- bind.lua: soft binding: a name maps to an item with its own TTL; a
-- lease with that name prefers the bound item.

function unbind(name)
	local item = redis.call('HGET', KEYS[8], name)
	if not item then
		return 0
	end
	redis.call('HDEL', KEYS[8], name)
	redis.call('ZREM', KEYS[9], name)
	redis.call('ZREM', KEYS[10], item .. SEP .. name)
	return 1
end

-- Names bound to item (at most BIND_PER_ITEM).
function item_names(item)
	local v = redis.call('ZRANGEBYLEX', KEYS[10], '[' .. item .. SEP,
	    '(' .. item .. '\1', 'LIMIT', 0, BIND_PER_ITEM)
	local names = {}
	for i = 1, #v do
		names[i] = string.sub(v[i], #item + 2)
	end
	return names
end

-- Bind name to item for ttl ms (0 = forever).
local function bind_set(name, item, ttl, now, conf)
	local old = redis.call('HGET', KEYS[8], name)
	if old ~= item then
		if old then
			redis.call('ZREM', KEYS[10], old .. SEP .. name)
		end
		if redis.call('ZLEXCOUNT', KEYS[10], '[' .. item .. SEP,
		    '(' .. item .. '\1') >= BIND_PER_ITEM then
			unbind(item_names(item)[1])
		end
		redis.call('HSET', KEYS[8], name, item)
		redis.call('ZADD', KEYS[10], 0, item .. SEP .. name)
	end
	if ttl > 0 then
		redis.call('ZADD', KEYS[9], now + ttl, name)
		due_at(now + ttl, conf)
	else
		redis.call('ZREM', KEYS[9], name)
	end
end


-- bind: bind a name to an item (soft binding: a lease with that name
-- prefers the item).  An item carries at most 256 names; binding one more
-- drops its lexicographically first name.
--
-- KEYS: the 12 pool keys (see item.lua)
-- ARGV: 1 name, 2 item, 3 ttl ms (-1 = the pool's bind_ttl, 0 = forever)
-- Returns: 1
-- Errors: NOT_FOUND (no such item, or draining), NO_SUCH_POOL,
--   BAD_ARGUMENT
register('bind', WRITE, function()
	local conf, err = pool_conf(true)
	if not conf then return err end
	local e = bad_key(ARGV[1], 'binding name') or bad_key(ARGV[2], 'item')
	if e then return bad(e) end
	local ttl
	ttl, e = arg_ms(ARGV[3], 'binding ttl', true)
	if not ttl then return bad(e) end
	if ttl == -1 then ttl = conf.bind_ttl end
	local m = item_get(ARGV[2])
	if not m or m.st == 'd' then
		return fail('NOT_FOUND', 'no such item')
	end
	bind_set(ARGV[1], ARGV[2], ttl, now_ms(), conf)
	return 1
end)

-- unbind: remove a binding.
--
-- KEYS: the 12 pool keys (see item.lua)
-- ARGV: 1 name
-- Returns: 1 if the name was bound, else 0.
-- Errors: NO_SUCH_POOL, BAD_ARGUMENT
register('unbind', WRITE, function()
	local conf, err = pool_conf(false)
	if not conf then return err end
	local e = bad_key(ARGV[1], 'binding name')
	if e then return bad(e) end
	local bexp = redis.call('ZSCORE', KEYS[9], ARGV[1])
	local live = not bexp or tonumber(bexp) > now_ms()
	local n = unbind(ARGV[1])
	if not live then
		return 0
	end
	return n
end)

-- binding: the item a name is bound to (an expired binding reads as
-- none; reclaim removes it).
--
-- KEYS: the 12 pool keys (see item.lua)
-- ARGV: 1 name
-- Returns: the item, or nil.
-- Errors: NO_SUCH_POOL, BAD_ARGUMENT
register('binding', READ, function()
	local conf, err = pool_conf(false)
	if not conf then return err end
	local e = bad_key(ARGV[1], 'binding name')
	if e then return bad(e) end
	local item = redis.call('HGET', KEYS[8], ARGV[1])
	if not item then
		return false
	end
	local bexp = redis.call('ZSCORE', KEYS[9], ARGV[1])
	if bexp and tonumber(bexp) <= now_ms() then
		return false
	end
	return item
end)

-- bindings: the names bound to an item (at most 256, sorted; expired
-- ones left out).
--
-- KEYS: the 12 pool keys (see item.lua)
-- ARGV: 1 item
-- Returns: array of names.
-- Errors: NO_SUCH_POOL, BAD_ARGUMENT
register('bindings', READ, function()
	local conf, err = pool_conf(false)
	if not conf then return err end
	local e = bad_key(ARGV[1], 'item')
	if e then return bad(e) end
	local now = now_ms()
	local names = item_names(ARGV[1])
	local out = {}
	for i = 1, #names do
		local bexp = redis.call('ZSCORE', KEYS[9], names[i])
		if not bexp or tonumber(bexp) > now then
			out[#out + 1] = names[i]
		end
	end
	return out
end)
