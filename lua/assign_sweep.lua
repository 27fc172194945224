-- assign_sweep.lua: one bounded step of the sweep after an assign:
-- items of a generation older than ARGV[1] are removed (held ones drain).
--
-- KEYS: the 12 pool keys (see lib/alloc.lua)
-- ARGV: 1 generation, 2 scan cursor ("0" first), 3 count
-- Returns: { next cursor ("0" = done), items removed in this step }
-- Errors: NO_SUCH_POOL, BAD_ARGUMENT
-- @include alloc
local conf, err = pool_conf(true)
if not conf then return err end
local gen = tonumber(ARGV[1])
if gen == nil or gen < 1 or gen ~= math.floor(gen) then
	return bad('generation must be a positive integer')
end
local count
count, err = arg_range(ARGV[3], 'count', 1, 100000)
if not count then return bad(err) end
local r = redis.call('HSCAN', KEYS[2], ARGV[2], 'COUNT', count)
local v = r[2]
local n = 0
for i = 1, #v, 2 do
	local m = item_decode(v[i + 1])
	if m.gen < gen and m.st ~= 'd' then
		n = n + item_remove(v[i], conf, m)
	end
end
return { r[1], n }
