-- unbind.lua: remove a binding.
--
-- KEYS: the 12 pool keys (see lib/alloc.lua)
-- ARGV: 1 name
-- Returns: 1 if the name was bound, else 0.
-- Errors: NO_SUCH_POOL, BAD_ARGUMENT
-- @include alloc
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
