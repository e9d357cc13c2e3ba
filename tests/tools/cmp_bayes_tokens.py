#!/usr/bin/env python3
"""cmp_bayes_tokens.py - compare lmtpd's Bayes tokens with SpamAssassin's.

usage: cmp_bayes_tokens.py [--data DIR] [--groups G1,G2] [--count N]
                           [--build DIR] [--rules DIR] [--work DIR]
                           [--refresh] [--show N]

For the first N messages (default 150) of each group (default easy-ham-1
and spam-1, the training groups: the held-out groups are refused), runs
tests/tools/sa_bayes_tokens.pl (what SpamAssassin 4's Plugin/Bayes.pm
learns from each message, as sa-learn parses it) and tests/tools/baytokdump
(what lmtpd-learn learns), and prints:

  - messages whose token sets are equal;
  - tokens per message summed over the messages: SpamAssassin's, lmtpd's,
    in both;
  - the tokens learned from all of them with their counts (spam, ham by
    group: spam-* is spam), the way `sa-learn --dump data` would show a
    database trained on these messages (compared by text, not by
    SpamAssassin's 40-bit hashes; SpamAssassin's tokens over 64 bytes in
    the form lmtpd stores them, see lmtpd_form): SpamAssassin's, lmtpd's, in both, in
    both with the same counts;
  - the tokens missing on either side, by kind (I*: invisible text, H*
    header, UD: URI domains, other body words), most frequent first.

SpamAssassin's output is cached in WORK (default /tmp/cmp_bayes_tokens)
and reused unless --refresh.  --show N prints N message-level differences.
Exit status 0 always (it is a report)."""

import argparse
import collections
import hashlib
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
import corpus  # noqa: E402


def parse_dump(data):
    """'== PATH' / 'T tok' blocks into {basename: set(tokens)} (bytes)."""
    out = {}
    cur = None
    for line in data.split(b'\n'):
        if line.startswith(b'== '):
            cur = out.setdefault(os.path.basename(line[3:].decode('utf-8', 'replace')), set())
        elif line.startswith(b'T ') and cur is not None:
            cur.add(line[2:])
    return out


TOKEN_MAX = 64       # BAYES_TOKEN_MAX in lib/lmtpd_limits.h
LONG_HASH_HEX = 16   # TOK_LONG_HASH_HEX in scoring/bayes_tok.c


def lmtpd_form(tok):
    """The token lmtpd stores for SpamAssassin's tok: a longer one is cut to
    its first 47 bytes (fewer to end on a UTF-8 boundary), '~' and 8 bytes
    of BLAKE2b-128 of the whole in hex (tok_push in scoring/bayes_tok.c)."""
    if len(tok) <= TOKEN_MAX:
        return tok
    keep = TOKEN_MAX - 1 - LONG_HASH_HEX
    while keep > 0 and 0x80 <= tok[keep] <= 0xbf:
        keep -= 1
    digest = hashlib.blake2b(tok, digest_size=16).digest()[:LONG_HASH_HEX // 2]
    return tok[:keep] + b'~' + digest.hex().encode()


def run_split(cmd, files, jobs=2):
    """Runs cmd + a share of files in jobs processes; their outputs joined."""
    shares = [files[i::jobs] for i in range(jobs)]
    procs = [subprocess.Popen(cmd + s, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
             for s in shares if s]
    return b''.join(p.communicate()[0] for p in procs)


def kind(tok):
    if tok.startswith(b'I*:'):
        return 'I*: (invisible)'
    if tok.startswith(b'H'):
        return 'H (header)'
    if tok.startswith(b'UD:'):
        return 'UD: (URI domain)'
    return 'body/URI word'


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--data', default=None)
    ap.add_argument('--groups', default='easy-ham-1,spam-1')
    ap.add_argument('--count', type=int, default=150, help='messages per group (0: all)')
    ap.add_argument('--build', default=os.path.join(TOP, '_build'))
    ap.add_argument('--rules', default='/usr/share/spamassassin')
    ap.add_argument('--work', default='/tmp/cmp_bayes_tokens')
    ap.add_argument('--refresh', action='store_true')
    ap.add_argument('--show', type=int, default=0)
    args = ap.parse_args()
    groups = args.groups.split(',')
    for g in groups:
        if g in corpus.HELD_OUT:
            sys.exit('cmp_bayes_tokens: %s is held out; compare on the training groups' % g)
    data = corpus.corpus_dir(args.data)
    dump = os.path.join(args.build, 'tests', 'tools', 'baytokdump')
    if not os.path.exists(dump):
        sys.exit('cmp_bayes_tokens: build tests/tools/baytokdump first (make -C tests '
                 'tools/baytokdump)')
    os.makedirs(args.work, exist_ok=True)

    sa, lm, spam_of = {}, {}, {}
    for g in groups:
        files = corpus.group_files(data, g)
        if args.count:
            files = files[:args.count]
        cache = os.path.join(args.work, 'sa_%s_%d.txt' % (g, len(files)))
        if args.refresh or not os.path.exists(cache):
            out = run_split(['perl', os.path.join(HERE, 'sa_bayes_tokens.pl'),
                             '-r', args.rules], files)
            with open(cache, 'wb') as f:
                f.write(out)
        with open(cache, 'rb') as f:
            sa.update({name: {lmtpd_form(t) for t in toks}
                       for name, toks in parse_dump(f.read()).items()})
        lm.update(parse_dump(run_split([dump, '--rules', args.rules], files)))
        for f in files:
            spam_of[os.path.basename(f)] = g.startswith('spam')

    names = sorted(n for n in sa if n in lm)
    same = 0
    n_sa = n_lm = n_both = 0
    agg = {'sa': collections.Counter(), 'lm': collections.Counter()}
    missing = {'sa': collections.Counter(), 'lm': collections.Counter()}
    shown = 0
    for n in names:
        s, m = sa[n], lm[n]
        same += s == m
        n_sa += len(s)
        n_lm += len(m)
        n_both += len(s & m)
        col = 0 if spam_of[n] else 1
        for side, toks in (('sa', s), ('lm', m)):
            for t in toks:
                agg[side][(t, col)] += 1
        for t in s - m:
            missing['lm'][t] += 1
        for t in m - s:
            missing['sa'][t] += 1
        if s != m and shown < args.show:
            shown += 1
            print('--- %s: only SpamAssassin %d, only lmtpd %d' % (n, len(s - m), len(m - s)))
            for t in sorted(s - m)[:15]:
                print('   sa  %s' % t.decode('utf-8', 'backslashreplace'))
            for t in sorted(m - s)[:15]:
                print('   lm  %s' % t.decode('utf-8', 'backslashreplace'))

    print('messages compared: %d (%s, first %s of each)' % (
        len(names), ', '.join(groups), args.count or 'all'))
    print('same token set:    %d (%.1f%%)' % (same, 100.0 * same / max(len(names), 1)))
    print('tokens per message, summed: SpamAssassin %d, lmtpd %d, in both %d '
          '(%.2f%% of SpamAssassin\'s)' % (n_sa, n_lm, n_both, 100.0 * n_both / max(n_sa, 1)))

    def counts(side):
        c = {}
        for (t, col), k in agg[side].items():
            c.setdefault(t, [0, 0])[col] = k
        return c
    cs, cl = counts('sa'), counts('lm')
    both = set(cs) & set(cl)
    same_counts = sum(1 for t in both if cs[t] == cl[t])
    print('database of these messages: SpamAssassin %d tokens, lmtpd %d, in both %d, '
          'with the same spam/ham counts %d' % (len(cs), len(cl), len(both), same_counts))
    for side, label in (('lm', 'only SpamAssassin has'), ('sa', 'only lmtpd has')):
        by_kind = collections.Counter()
        for t, k in missing[side].items():
            by_kind[kind(t)] += k
        print('%s (token x message): %s' % (label, ', '.join(
            '%s %d' % kv for kv in by_kind.most_common()) or 'nothing'))
        for t, k in missing[side].most_common(8):
            print('   %5d  %s' % (k, t.decode('utf-8', 'backslashreplace')))


if __name__ == '__main__':
    main()
