"""alloc_cpu.py: Redis CPU per allocator script call (INFO commandstats).

usage: python3 alloc_cpu.py SOCK RA_SCRIPTS_C POOL N [ROUNDS]

A round runs N lease.lua calls on POOL (which must exist with at least N
free items), then N release.lua calls of those leases, then N calls of
the lease script's preamble alone (its library text followed by
"return 1") and N of a bare "return 1".  Prints the time per call in
microseconds of each: cmdstat_evalsha usec_per_call after CONFIG
RESETSTAT, or the server's CPU time (INFO cpu) per call when less, the
least of ROUNDS rounds (default 5): on a busy machine other
processes only ever add to it.  Run by tests/bench/alloc; not part of
make check.
"""
import binascii
import os
import re
import sys

import redis


def scripts(path):
    """name -> source text of every script of the generated C table."""
    out = {}
    text = open(path).read()
    for m in re.finditer(r'\{\n\t\t"(\w+)",\n\t\t"[0-9a-f]{40}",\n'
                         r'((?:\t\t".*"\n)+)\t\}', text):
        lines = []
        for line in m.group(2).splitlines():
            s = line.strip()[1:-1]
            s = s.replace('\\n', '\n').replace('\\"', '"')
            s = s.replace('\\\\', '\\')
            lines.append(s)
        out[m.group(1)] = ''.join(lines)
    return out


def per_call(r, n, calls):
    """Run calls (a list of (sha, keys, args)) n at a time pipelined and
    return usec_per_call of EVALSHA."""
    r.config_resetstat()
    c0 = r.info('cpu')
    for off in range(0, len(calls), 100):
        p = r.pipeline(transaction=False)
        for sha, keys, args in calls[off:off + 100]:
            p.evalsha(sha, len(keys), *(keys + args))
        for v in p.execute(raise_on_error=False):
            if isinstance(v, Exception):
                sys.exit('alloc_cpu: %s' % v)
    c1 = r.info('cpu')
    return min(r.info('commandstats')['cmdstat_evalsha']['usec_per_call'],
               1e6 * sum(c1[k] - c0[k] for k in ('used_cpu_user',
                                                 'used_cpu_sys')) / n)


def main():
    sock, table, pool, n = sys.argv[1], sys.argv[2], sys.argv[3], \
        int(sys.argv[4])
    src = scripts(table)
    r = redis.Redis(unix_socket_path=sock)
    keys = ['{ra:%s}:%s' % (pool, k) for k in ('meta', 'items', 'free',
            'shared', 'leases', 'lease', 'quarantine', 'bind', 'bindexp',
            'bindrev', 'itemexp', 'fence')]
    sha = {k: r.script_load(v) for k, v in src.items()}
    body = src['lease'].find('-- lease.lua:')
    pre = r.script_load(src['lease'][:body] + 'return 1\n')
    one = r.script_load('return 1')
    rounds = int(sys.argv[5]) if len(sys.argv) > 5 else 5
    lease = release = preamble = trivial = float('inf')
    for _ in range(rounds):
        tokens = [binascii.hexlify(os.urandom(16)).decode()
                  for _ in range(n)]
        lease = min(lease, per_call(r, n, [
            (sha['lease'], keys, [t, -1, 0, '', -1, '', 25])
            for t in tokens]))
        release = min(release, per_call(r, n, [
            (sha['release'], keys, [t, 'OK', 10]) for t in tokens]))
        preamble = min(preamble, per_call(r, n, [(pre, keys, [])] * n))
        trivial = min(trivial, per_call(r, n, [(one, [], [])] * n))
    print('cpu_usec_lease %.2f' % lease)
    print('cpu_usec_release %.2f' % release)
    print('cpu_usec_lease_preamble %.2f' % preamble)
    print('cpu_usec_return_1 %.2f' % trivial)
    print('preamble_bytes_lease %d' % body)


main()
