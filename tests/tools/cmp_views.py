#!/usr/bin/env python3
"""cmp_views.py - compare msgview's views with SpamAssassin's.

usage: cmp_views.py [--data DIR] [--groups G1,G2] [--mvdump PATH]
                    [--rules DIR] [--work DIR] [--refresh] [--show N]
                    [--only VIEW] [--limit N] [--envfrom ADDR]

Runs tests/tools/sa_views.pl (SpamAssassin 4.0.1) and scoring/mvdump on
every message of the groups (default easy-ham-1 and spam-1, the training
groups: never point it at the held-out groups while tuning) with the
requests of tests/tools/views_requests.txt, and prints the share of
messages whose view matches exactly:

  body      the body view (get_decoded_stripped_body_text_array)
  rawbody   the rawbody view (get_decoded_body_text_array)
  header    every "g" request (each request is also counted alone)
  mime      every "m" request on every part (mimeheader)
  html_uri  the raw URIs HTML.pm collected (as a set)
  uri       get_uri_list() (as a set; needs scoring/uri.c)

SpamAssassin's output is cached in WORK (default /tmp/cmp_views) and
reused unless --refresh is given.  --show N prints the first N
differences of each view.  --envfrom gives both sides an SMTP MAIL FROM
(the Return-Path an MTA would prepend).  Exit status 0 always (it is a report)."""

import argparse
import difflib
import glob
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(os.path.dirname(HERE))


def parse_dump(text):
    """'== PATH' blocks into {path: {'B': [...], 'R': [...], 'G': {req: (found, v)},
    'M': {(n, req): (found, v)}, 'H': [...], 'U': [...]}}"""
    out = {}
    cur = None
    for line in text.split('\n'):
        if line.startswith('== '):
            cur = {'B': [], 'R': [], 'G': {}, 'M': {}, 'H': [], 'U': []}
            out[os.path.basename(line[3:])] = cur
            continue
        if cur is None or len(line) < 2:
            continue
        kind, rest = line[0], line[2:]
        if kind in 'BRHU':
            cur[kind].append(rest)
        elif kind == 'G':
            req, found, val = rest.split('\t', 2)
            cur['G'][req] = (found, val)
        elif kind == 'M':
            n, req, found, val = rest.split('\t', 3)
            cur['M'][(int(n), req)] = (found, val)
    return out


def run_sa(files, args, out_path):
    cmd = ['perl', os.path.join(HERE, 'sa_views.pl'), '-r', args.rules,
           '-q', os.path.join(HERE, 'views_requests.txt')]
    if args.envfrom is not None:
        cmd += ['-e', args.envfrom]
    # two processes: SpamAssassin is the slow side
    half = (len(files) + 1) // 2
    chunks = [files[:half], files[half:]]
    procs = []
    for i, chunk in enumerate(chunks):
        if not chunk:
            continue
        f = open(out_path + '.%d' % i, 'wb')
        procs.append((subprocess.Popen(cmd + chunk, stdout=f, stderr=subprocess.DEVNULL), f))
    for p, f in procs:
        p.wait()
        f.close()
    with open(out_path, 'wb') as out:
        for i in range(len(chunks)):
            part = out_path + '.%d' % i
            if os.path.exists(part):
                with open(part, 'rb') as f:
                    out.write(f.read())
                os.unlink(part)


def run_mv(files, args):
    cmd = [args.mvdump, '--cf', os.path.join(args.rules, '20_aux_tlds.cf'),
           '--cf', os.path.join(args.rules, '10_default_prefs.cf')]
    if args.envfrom is not None:
        cmd += ['-e', args.envfrom]
    with open(os.path.join(HERE, 'views_requests.txt')) as f:
        for line in f:
            line = line.rstrip('\n')
            if line.startswith('g '):
                cmd += ['-g', line[2:]]
            elif line.startswith('m '):
                cmd += ['-m', line[2:]]
    out = []
    for i in range(0, len(files), 500):
        r = subprocess.run(cmd + files[i:i + 500], stdout=subprocess.PIPE)
        out.append(r.stdout.decode('utf-8', 'surrogateescape'))
    return ''.join(out)


def show_diff(name, a, b, limit=12):
    print('--- %s' % name)
    for line in list(difflib.unified_diff(a, b, 'sa', 'mv', lineterm='', n=1))[:limit]:
        print('   ' + line[:300])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--data', default='/work/cache/package/data')
    ap.add_argument('--groups', default='easy-ham-1,spam-1')
    ap.add_argument('--mvdump', default=None)
    ap.add_argument('--rules', default='/usr/share/spamassassin')
    ap.add_argument('--work', default='/tmp/cmp_views')
    ap.add_argument('--refresh', action='store_true')
    ap.add_argument('--show', type=int, default=0)
    ap.add_argument('--only', default=None)
    ap.add_argument('--limit', type=int, default=0)
    ap.add_argument('--envfrom', default=None)
    args = ap.parse_args()
    if args.mvdump is None:
        for cand in (os.path.join(TOP, '_build', 'scoring', 'mvdump'),
                     os.path.join(TOP, 'scoring', 'mvdump')):
            if os.path.exists(cand):
                args.mvdump = cand
                break
    if args.mvdump is None:
        sys.exit('cmp_views: build scoring/mvdump first (or give --mvdump)')
    for g in args.groups.split(','):
        if g in ('easy-ham-2', 'hard-ham-1', 'spam-2'):
            sys.exit('cmp_views: %s is held out; compare on the training groups' % g)
    os.makedirs(args.work, exist_ok=True)

    totals = {}
    per_req = {}
    shown = {}
    for group in args.groups.split(','):
        files = sorted(glob.glob(os.path.join(args.data, group, '*.txt')))
        if args.limit:
            files = files[:args.limit]
        sa_path = os.path.join(args.work, 'sa_%s_%d%s.txt' % (
            group, len(files), '' if args.envfrom is None else '_e' + args.envfrom))
        if args.refresh or not os.path.exists(sa_path):
            run_sa(files, args, sa_path)
        with open(sa_path, 'rb') as f:
            sa = parse_dump(f.read().decode('utf-8', 'surrogateescape'))
        mv = parse_dump(run_mv(files, args))
        for name in sorted(sa):
            s, m = sa[name], mv.get(name)
            if m is None:
                continue
            views = {
                'body': (s['B'], m['B']),
                'rawbody': (s['R'], m['R']),
                'header': ([k + ' ' + '\t'.join(v) for k, v in sorted(s['G'].items())],
                           [k + ' ' + '\t'.join(v) for k, v in sorted(m['G'].items())]),
                'mime': (['%d %s %s' % (k[0], k[1], '\t'.join(v)) for k, v in sorted(s['M'].items())],
                         ['%d %s %s' % (k[0], k[1], '\t'.join(v)) for k, v in sorted(m['M'].items())]),
                'html_uri': (sorted(set(s['H'])), sorted(set(m['H']))),
                'uri': (sorted(set(s['U'])), sorted(set(m['U']))),
            }
            for view, (a, b) in views.items():
                t = totals.setdefault(view, [0, 0])
                t[1] += 1
                if a == b:
                    t[0] += 1
                elif args.show and (args.only in (None, view)) and shown.get(view, 0) < args.show:
                    shown[view] = shown.get(view, 0) + 1
                    show_diff('%s %s/%s' % (view, group, name), a, b)
            for req, v in s['G'].items():
                r = per_req.setdefault(req, [0, 0])
                r[1] += 1
                if m['G'].get(req) == v:
                    r[0] += 1
    print('view       match / total')
    for view in ('body', 'rawbody', 'header', 'mime', 'html_uri', 'uri'):
        if view in totals:
            ok, n = totals[view]
            print('%-9s %5d / %5d  %6.2f%%' % (view, ok, n, 100.0 * ok / max(n, 1)))
    bad = [(req, ok, n) for req, (ok, n) in per_req.items() if ok != n]
    if bad:
        print('header requests that differ somewhere:')
        for req, ok, n in sorted(bad, key=lambda x: x[1] - x[2]):
            print('  %-28s %5d / %5d' % (req, ok, n))


if __name__ == '__main__':
    main()
