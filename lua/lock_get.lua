-- lock_get.lua: read a lock: its owner value and remaining TTL, in one
-- atomic step (is_locked, lock_value and key_status use it).
--
-- KEYS[1]: the lock, "{prefix:lock:name}"
-- ARGV:    none
-- Returns: {value or nil, pttl}; pttl is -2 when the key is missing and
--          -1 when it has no expiry.
-- Errors:  none of ours (a key of another type answers WRONGTYPE).
return {redis.call('GET', KEYS[1]), redis.call('PTTL', KEYS[1])}
