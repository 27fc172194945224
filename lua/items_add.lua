-- items_add.lua: add or update items (one chunk; the library splits
-- bigger requests).  A new item is free; an existing one gets the new
-- priority and expiry and keeps its state; a draining one comes back.
--
-- KEYS: the 12 pool keys (see common.lua)
-- ARGV: 1 generation (0 = the pool's current one; see assign_begin.lua),
--       then per item: key, priority (-32768..32767),
--       expires ms from now (0 = never)
-- Returns: the number of items that were new.
-- Errors: NO_SUCH_POOL, BAD_ARGUMENT (the whole chunk is rejected and
--   nothing changes).
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
-- cmd key with the pairs of args, in slices unpack can take
local function bulk(cmd, key, args)
	for i = 1, #args, 2000 do
		redis.call(cmd, key, unpack(args, i, math.min(i + 1999, #args)))
	end
end

local now = now_ms()
local added = 0
-- new items are written in bulk: one sequence range, one ZADD, one HSET
local fresh, zadd, hset, eadd = {}, {}, {}, {}
for i = 2, #ARGV, 3 do
	local item = ARGV[i]
	local m = item_get(item)
	local abs = exp[i] > 0 and now + exp[i] or 0
	if not m then
		if not fresh[item] then
			fresh[item] = true
			added = added + 1
		end
	else
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
		if abs > 0 then
			redis.call('ZADD', KEYS[11], abs, item)
		else
			redis.call('ZREM', KEYS[11], item)
		end
		item_save(item, m)
	end
end
if added > 0 then
	local seq = redis.call('HINCRBY', KEYS[1], 'seq', added) - added
	local done = {}
	for i = 2, #ARGV, 3 do
		local item = ARGV[i]
		if fresh[item] then
			-- the last triple for a key given twice wins
			local m = done[item] or item_decode('')
			if not done[item] then
				seq = seq + 1
				m.seq = seq
				done[item] = m
			end
			m.prio = prio[i]
			m.exp = exp[i] > 0 and now + exp[i] or 0
			m.gen = gen
		end
	end
	for item, m in pairs(done) do
		zadd[#zadd + 1] = free_score(m, m.seq)
		zadd[#zadd + 1] = item
		hset[#hset + 1] = item
		hset[#hset + 1] = item_encode(m)
		if m.exp > 0 then
			eadd[#eadd + 1] = m.exp
			eadd[#eadd + 1] = item
		end
	end
	bulk('ZADD', KEYS[3], zadd)
	bulk('HSET', KEYS[2], hset)
	bulk('ZADD', KEYS[11], eadd)
end
return added
