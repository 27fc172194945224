-- bindings.lua: the names bound to an item (at most 256, sorted; expired
-- ones left out).
--
-- KEYS: the 12 pool keys (see lib/alloc.lua)
-- ARGV: 1 item
-- Returns: array of names.
-- Errors: NO_SUCH_POOL, BAD_ARGUMENT
-- @include alloc
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
