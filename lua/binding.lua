-- binding.lua: the item a name is bound to (an expired binding is
-- removed and reads as none).
--
-- KEYS: the 12 pool keys (see lib/alloc.lua)
-- ARGV: 1 name
-- Returns: the item, or nil.
-- Errors: NO_SUCH_POOL, BAD_ARGUMENT
-- @include alloc
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
	unbind(ARGV[1])
	return false
end
return item
