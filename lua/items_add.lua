-- items_add.lua: add or update items (one chunk; the library splits
-- bigger requests).  A new item is free; an existing one gets the new
-- priority and expiry and keeps its state; a draining one comes back.
--
-- KEYS: the 12 pool keys (see lib/alloc.lua)
-- ARGV: 1 generation (0 = the pool's current one; see assign_begin.lua),
--       then per item: key, priority (-32768..32767),
--       expires ms from now (0 = never)
-- Returns: the number of items that were new.
-- Errors: NO_SUCH_POOL, BAD_ARGUMENT (the whole chunk is rejected and
--   nothing changes).
-- @include alloc
local conf, err = pool_conf(true)
if not conf then return err end
local gen = tonumber(ARGV[1])
if gen == nil or gen < 0 or gen ~= math.floor(gen) then
	return bad('generation must be a non-negative integer')
end
if (#ARGV - 1) % 3 ~= 0 then
	return bad('items come as key, priority, expiry triples')
end
local prio, exp = {}, {}
for i = 2, #ARGV, 3 do
	local e = bad_key(ARGV[i], 'item')
	if e then return bad(e) end
	prio[i], e = arg_range(ARGV[i + 1], 'priority', PRIO_MIN, PRIO_MAX)
	if not prio[i] then return bad(e) end
	exp[i], e = arg_ms(ARGV[i + 2], 'item expiry', false)
	if not exp[i] then return bad(e) end
end
if gen == 0 then
	gen = tonumber(redis.call('HGET', KEYS[1], 'gen')) or 0
end
-- cmd key with args, in slices unpack can take
local function bulk(cmd, key, args)
	for i = 1, #args, 2000 do
		redis.call(cmd, key, unpack(args, i, math.min(i + 1999, #args)))
	end
end

local now = now_ms()
local keys = {}
for i = 2, #ARGV, 3 do
	keys[#keys + 1] = ARGV[i]
end
local cur = {}
for i = 1, #keys, 2000 do
	local v = redis.call('HMGET', KEYS[2],
	    unpack(keys, i, math.min(i + 1999, #keys)))
	for j = 1, #v do
		cur[i + j - 1] = v[j]
	end
end

-- New items are written in bulk (one sequence range, one ZADD, one HSET);
-- existing ones are updated in place, each key once even if given twice
-- (its last triple wins).
local fresh, order, seen = {}, {}, {}
local hset, eadd, erem = {}, {}, {}
local added = 0
for k = 1, #keys do
	local i = 2 + (k - 1) * 3
	local item = keys[k]
	local abs = exp[i] > 0 and now + exp[i] or 0
	if fresh[item] or (not cur[k] and not seen[item]) then
		if not fresh[item] then
			added = added + 1
			order[added] = item
		end
		fresh[item] = { prio[i], abs }
	else
		local m = seen[item]
		if not m then
			m = item_decode(cur[k])
			m.oldexp = m.exp
			seen[item] = m
		end
		local moved = m.prio ~= prio[i] or m.st == 'd'
		if moved then
			st_leave(item, m)
		end
		m.prio = prio[i]
		m.exp = abs
		m.gen = gen
		if moved then
			if m.st == 'q' then
				st_enter(item, m, 'q', conf)
			else
				st_enter(item, m, rest_state(m), conf)
			end
		end
	end
end
for item, m in pairs(seen) do
	hset[#hset + 1] = item
	hset[#hset + 1] = item_encode(m)
	if m.exp > 0 then
		eadd[#eadd + 1] = m.exp
		eadd[#eadd + 1] = item
	elseif m.oldexp > 0 then
		erem[#erem + 1] = item
	end
end
if added > 0 then
	local seq = redis.call('HINCRBY', KEYS[1], 'seq', added) - added
	local zadd = {}
	local m = item_decode('')
	m.gen = gen
	for k = 1, added do
		local item = order[k]
		m.prio = fresh[item][1]
		m.exp = fresh[item][2]
		zadd[#zadd + 1] = free_score(m, seq + k)
		zadd[#zadd + 1] = item
		hset[#hset + 1] = item
		hset[#hset + 1] = item_encode(m)
		if m.exp > 0 then
			eadd[#eadd + 1] = m.exp
			eadd[#eadd + 1] = item
		end
	end
	bulk('ZADD', KEYS[3], zadd)
end
bulk('HSET', KEYS[2], hset)
bulk('ZADD', KEYS[11], eadd)
local emin = eadd[1]
for i = 3, #eadd, 2 do
	emin = math.min(emin, eadd[i])
end
if emin then
	due_at(emin, conf)
end
for i = 1, #erem, 4000 do
	redis.call('ZREM', KEYS[11], unpack(erem, i, math.min(i + 3999,
	    #erem)))
end
return added
