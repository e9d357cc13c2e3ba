#!/usr/bin/env python3
"""cmp_relays.py - compare scoring/received.c with SpamAssassin over messages.

usage: cmp_relays.py [--relaydump PATH] [-c 'KEY VALUE']... [-l] [-v] PATH...

Runs tests/tools/sa_relays.pl (SpamAssassin) and relaydump (lmtpd) on the
messages (files, or every *.txt / *.eml in a folder) with the same settings
lines, and prints how many messages get identical X-Spam-Relays-* strings,
unparseable count and last trusted/internal indexes; -v lists the
differences.  With -l each PATH is a file of Received values, one a line.
Only compare on the training groups of the corpus (easy-ham-1, spam-1).
"""
import argparse
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))


def parse(out):
    recs, order, cur = {}, [], None
    for line in out.split(b'\n'):
        if not line:
            continue
        k, _, v = line.partition(b' ')
        if k == b'file':
            cur = v
            recs[cur] = {}
            order.append(cur)
        else:
            recs[cur][k] = v
    return recs, order


def run(cmd, args, batch=500):
    out = b''
    for i in range(0, len(args), batch):
        out += subprocess.run(cmd + args[i:i + batch], check=True,
                              stdout=subprocess.PIPE).stdout
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--relaydump', default=os.environ.get('RELAYDUMP', 'relaydump'))
    ap.add_argument('-c', action='append', default=[], metavar='LINE')
    ap.add_argument('-l', action='store_true', help='PATHs hold one Received value a line')
    ap.add_argument('-v', action='store_true')
    ap.add_argument('paths', nargs='+')
    a = ap.parse_args()
    files = []
    for p in a.paths:
        if os.path.isdir(p):
            files += sorted(os.path.join(p, f) for f in os.listdir(p)
                            if f.endswith(('.txt', '.eml')))
        else:
            files.append(p)
    opts = []
    for c in a.c:
        opts += ['-c', c]
    sa = [os.path.join(HERE, 'sa_relays.pl')] + opts
    me = [a.relaydump] + opts
    if a.l:
        ref, got = b'', b''
        for f in files:
            ref += subprocess.run(sa + ['-l', f], check=True, stdout=subprocess.PIPE).stdout
            got += subprocess.run(me + ['-l', f], check=True, stdout=subprocess.PIPE).stdout
    else:
        ref, got = run(sa, files), run(me, files)
    ref, order = parse(ref)
    got, _ = parse(got)
    same, fields = 0, {}
    for name in order:
        diffs = [k for k in ref[name] if ref[name][k] != got.get(name, {}).get(k)]
        if not diffs:
            same += 1
            continue
        for k in diffs:
            fields[k.decode()] = fields.get(k.decode(), 0) + 1
        if a.v:
            print(name.decode(errors='replace'))
            for k in diffs:
                print('  SA ', k.decode(), ref[name][k].decode(errors='replace'))
                print('  C  ', k.decode(),
                      got.get(name, {}).get(k, b'<missing>').decode(errors='replace'))
    total = len(order)
    print(f'{same}/{total} identical ({100.0 * same / max(total, 1):.2f}%)'
          + (f'; differing: {fields}' if fields else ''))
    return 0 if same == total else 1


if __name__ == '__main__':
    sys.exit(main())
