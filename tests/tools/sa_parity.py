#!/usr/bin/env python3
"""sa_parity.py - compare lmtpd's rule hits with SpamAssassin's, rule by rule.

Starts a private spamd (Debian's spamassassin, network tests and Bayes off,
the same rule files), scores the same messages with `spamc` and with
`lmtpd-score --hits`, and compares the hits of the rules both engines run as
plain regex rules (header, body, rawbody, full, uri, mimeheader; eval and
meta rules are not compared).  Of the (message, rule) pairs where either side
hits, it reports the share where both do, and lists the disagreements.

  sa_parity.py --lmtpd-score PATH [--count 300] [--corpus DIR] [--min 0.99]
  sa_parity.py --lmtpd-score PATH --reports [--count N]

--reports compares X-Spam-Report instead: spamd with "report_safe 0" and
"add_header all Report _REPORT_" against lmtpd-score with spam_report =
yes, entry by entry (an entry is a rule's line with its continuation
lines; SpamAssassin orders them by Perl hash order, lmtpd by name).

Only the training groups (easy-ham-1, spam-1) are ever read.  Exit status 1
when the agreement is below --min.  Stdlib only.
"""
import argparse, collections, concurrent.futures, os, re, shutil, socket, subprocess, sys
import tempfile, time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from corpus import TRAIN, corpus_dir  # noqa: E402
REGEX_KINDS = {'header', 'body', 'rawbody', 'full', 'uri', 'mimeheader'}


def pick(corpus, count):
    """count messages spread evenly over the training groups, by name."""
    files = []
    for g in TRAIN:
        names = sorted(f for f in os.listdir(os.path.join(corpus, g)) if f.endswith('.txt'))
        share = max(1, count * len(names) // 3000) if count < 3000 else len(names)
        step = max(1, len(names) // share)
        files += [os.path.join(corpus, g, n) for n in names[::step][:share]]
    return files


def free_port():
    s = socket.socket()
    s.bind(('127.0.0.1', 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Spamd:
    """A private spamd on loopback: Debian's spamassassin with the given
    rule files, network tests, Bayes and the auto-welcomelist off.

    local_cf is appended to the private site config (later lines win, so
    'use_bayes 1' there turns Bayes back on); with start=False the config
    is written but spamd waits for start(), so a tool such as sa-learn can
    use the same --siteconfigpath (self.site) first.  extra is more of the
    same; args are more spamd options."""
    def __init__(self, rules, children=2, subtests=True, local_cf='', start=True,
                 extra='', args=()):
        self.dir = tempfile.mkdtemp(prefix='sa_parity.')
        os.chmod(self.dir, 0o755)
        self.port = free_port()
        site = os.path.join(self.dir, 'site')
        home = os.path.join(self.dir, 'home')
        os.makedirs(site)
        os.makedirs(home)
        os.chmod(site, 0o755)
        os.chmod(home, 0o777)
        for f in os.listdir('/etc/spamassassin'):
            if f.endswith('.pre'):
                shutil.copy(os.path.join('/etc/spamassassin', f), site)
        with open(os.path.join(site, 'local.cf'), 'w') as f:
            f.write('required_score 5.0\nskip_rbl_checks 1\ndns_available no\n'
                    'use_razor2 0\nuse_pyzor 0\nuse_bayes 0\nbayes_auto_learn 0\n'
                    'ifplugin Mail::SpamAssassin::Plugin::DCC\nuse_dcc 0\nendif\n'
                    'ifplugin Mail::SpamAssassin::Plugin::AWL\nuse_auto_whitelist 0\nendif\n'
                    'ifplugin Mail::SpamAssassin::Plugin::TxRep\nuse_txrep 0\nendif\n')
            if subtests:
                f.write('add_header all Subtests _SUBTESTS_\n')
            f.write(local_cf)
            f.write(extra)
        self.rules, self.site, self.home, self.children = rules, site, home, children
        self.args = list(args)
        self.pidfile = os.path.join(self.dir, 'spamd.pid')
        if start:
            self.start()

    def start(self):
        site, home, children = self.site, self.home, self.children
        subprocess.run(['spamd', '-d', '-L', '-x', '-u', 'debian-spamd', '-H', home,
                        '-C', self.rules, '--siteconfigpath=' + site, '-i', '127.0.0.1:%d' % self.port,
                        '-A', '127.0.0.1', '--max-children', str(children),
                        '--min-children', str(children), '--min-spare', '1',
                        '--max-spare', str(children), '-r', self.pidfile,
                        '-s', os.path.join(self.dir, 'spamd.log')] + self.args,
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.time() + 120
        while time.time() < deadline:
            try:
                socket.create_connection(('127.0.0.1', self.port), timeout=1).close()
                return
            except OSError:
                time.sleep(0.2)
        self.stop()
        raise RuntimeError('spamd did not start')

    def check(self, data, want_score=False, user=None):
        out = self.process(data, user)
        head = out.split(b'\n\n', 1)[0].decode('latin-1')
        head = re.sub(r'\n[ \t]+', ' ', head)
        if want_score:
            m = re.search(r'^X-Spam-Status: \w+, score=(-?[\d.]+)', head, re.M)
            return float(m.group(1)) if m else None, self._tests(head)
        return self._tests(head)

    def process(self, data, user=None):
        """The message as spamd returns it (for user: spamc -u)."""
        return subprocess.run(['spamc', '-p', str(self.port), '-t', '120'] +
                              (['-u', user] if user else []), input=data,
                              stdout=subprocess.PIPE, check=True).stdout

    @staticmethod
    def _tests(head):
        hits = set()
        # The tests list is folded after commas: read it up to the next
        # field, not up to the first white space.
        m = re.search(r'^X-Spam-Status: .*?tests=(.*?)(?:\s+\w+=|$)', head, re.M)
        if m and m.group(1).strip() != 'none':
            hits.update(t for t in re.split(r'[,\s]+', m.group(1)) if t)
        m = re.search(r'^X-Spam-Subtests: *(.*)$', head, re.M)
        if m:
            hits.update(t for t in re.split(r'[,\s]+', m.group(1)) if t)
        return hits

    def stop(self):
        try:
            with open(self.pidfile) as f:
                os.kill(int(f.read().strip()), 15)
            for _ in range(100):
                if not os.path.exists(self.pidfile):
                    break
                time.sleep(0.1)
        except (OSError, ValueError):
            pass
        shutil.rmtree(self.dir, ignore_errors=True)


def message_bytes(path):
    data = open(path, 'rb').read()
    if data.startswith(b'From '):
        data = data.split(b'\n', 1)[1] if b'\n' in data else b''
    return data


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--lmtpd-score', required=True)
    ap.add_argument('--rules', default='/usr/share/spamassassin')
    ap.add_argument('--count', type=int, default=300)
    ap.add_argument('--corpus')
    ap.add_argument('--min', type=float, default=0.99)
    ap.add_argument('--show', type=int, default=25, help='rules listed per direction')
    ap.add_argument('--compare', help='compare these rules (comma list) instead of the '
                    'regex rules, e.g. eval rules as lmtpd implements them')
    ap.add_argument('--scores', action='store_true',
                    help='compare whole scores instead: same verdict at 5, score within '
                    '0.5, and the rules behind the largest differences')
    ap.add_argument('--reports', action='store_true',
                    help='compare X-Spam-Report headers instead, entry by entry')
    a = ap.parse_args()
    if a.scores:
        return compare_scores(a)
    if a.reports:
        return compare_reports(a)

    corpus = corpus_dir(a.corpus)
    files = pick(corpus, a.count)
    kinds = {}
    out = subprocess.run([a.lmtpd_score, '--rules', a.rules, '--list-rules'],
                         stdout=subprocess.PIPE, check=True, text=True).stdout
    for line in out.splitlines():
        name, kind, why = (line.split('\t') + ['', ''])[:3]
        kinds[name] = (kind, why)
    compared = {n for n, (k, why) in kinds.items() if k in REGEX_KINDS and why == ''}
    if a.compare:
        compared = set(a.compare.split(','))

    # lmtpd-score reads the mbox "From " line itself.
    out = subprocess.run([a.lmtpd_score, '--rules', a.rules, '--hits', '-j', '2'] + files,
                         stdout=subprocess.PIPE, check=True, text=True).stdout
    ours = {}
    for line in out.splitlines():
        path, _, hits = line.rpartition('\t')
        ours[path] = set() if hits == 'none' else set(hits.split(','))

    spamd = Spamd(a.rules)
    try:
        theirs = {f: spamd.check(message_bytes(f)) for f in files}
    finally:
        spamd.stop()

    both = only_sa = only_us = 0
    miss = collections.Counter()
    extra = collections.Counter()
    example = {}
    for f in files:
        sa = theirs[f] & compared
        us = ours.get(f, set()) & compared
        both += len(sa & us)
        for r in sa - us:
            only_sa += 1
            miss[r] += 1
            example.setdefault(('miss', r), os.path.relpath(f, corpus))
        for r in us - sa:
            only_us += 1
            extra[r] += 1
            example.setdefault(('extra', r), os.path.relpath(f, corpus))
    total = both + only_sa + only_us
    ratio = both / total if total else 1.0
    print('messages: %d (%s), rules compared: %d' % (len(files), ', '.join(TRAIN), len(compared)))
    print('(message, rule) pairs where either hits: %d; both: %d (%.2f%%); '
          'SpamAssassin only: %d; lmtpd only: %d' % (total, both, 100 * ratio, only_sa, only_us))
    for title, counter, key in (('hit by SpamAssassin only', miss, 'miss'),
                                ('hit by lmtpd only', extra, 'extra')):
        if counter:
            print('\n%s:' % title)
            for rule, n in counter.most_common(a.show):
                print('  %-32s %-10s %4d  e.g. %s' % (rule, kinds.get(rule, ('?',))[0], n,
                                                      example[(key, rule)]))
    return 0 if ratio >= a.min else 1


def compare_scores(a):
    corpus = corpus_dir(a.corpus)
    files = pick(corpus, a.count)
    out = subprocess.run([a.lmtpd_score, '--rules', a.rules, '-j', '2'] + files,
                         stdout=subprocess.PIPE, check=True, text=True).stdout
    ours = {}
    for line in out.splitlines():
        path, score, _req, tests = line.split('\t')
        ours[path] = (float(score), set() if tests == 'none' else set(tests.split(',')))
    spamd = Spamd(a.rules, subtests=False)
    try:
        theirs = {f: spamd.check(message_bytes(f), want_score=True) for f in files}
    finally:
        spamd.stop()
    same = close = 0
    blame = collections.Counter()
    worst = []
    for f in files:
        (s1, t1), (s2, t2) = ours[f], theirs[f]
        same += (s1 >= 5) == (s2 >= 5)
        close += abs(s1 - s2) <= 0.5
        if abs(s1 - s2) > 0.5:
            for r in t1 ^ t2:
                blame[r] += 1
            worst.append((abs(s1 - s2), os.path.relpath(f, corpus), s1, s2, sorted(t2 - t1),
                          sorted(t1 - t2)))
    n = len(files)
    print('messages: %d (%s)' % (n, ', '.join(TRAIN)))
    print('same verdict at 5: %.1f%% (goal 98%%); score within 0.5: %.1f%% (goal 90%%)' % (
        100 * same / n, 100 * close / n))
    print('\nrules behind the differences (messages off by more than 0.5 where the rule '
          'hits on one side only):')
    for r, c in blame.most_common(a.show):
        print('  %-32s %4d' % (r, c))
    print('\nlargest differences:')
    for d, f, s1, s2, miss, extra in sorted(worst, reverse=True)[:10]:
        print('  %6.1f  %s  lmtpd %.1f, SpamAssassin %.1f; SpamAssassin only: %s; lmtpd only: %s'
              % (d, f, s1, s2, ','.join(miss) or '-', ','.join(extra) or '-'))
    return 0 if same / n >= 0.98 and close / n >= 0.90 else 1



# An entry of X-Spam-Report: "\t* " and a 4-column score, then the rule name.
REPORT_ENTRY = re.compile(r'^\t\* (?=[ -]*\d)[ \d.-]{4} ([A-Za-z_]\w*) ')


def report_header(msg):
    """(X-Spam-Report field as written, folds kept, or None; tests=)."""
    head = msg.split(b'\n\n', 1)[0].decode('latin-1')
    m = re.search(r'^X-Spam-Report:.*\n(?:[ \t].*\n)*', head + '\n', re.M)
    return (m.group(0) if m else None), Spamd._tests(re.sub(r'\n[ \t]+', ' ', head))


def report_entries(field):
    """{rule: [entry text, ...]} of an X-Spam-Report field."""
    entries = collections.defaultdict(list)
    name = None
    for line in field.split('\n')[1:]:
        m = REPORT_ENTRY.match(line)
        if m:
            name = m.group(1)
            entries[name].append(line + '\n')
        elif line and name is not None:
            entries[name][-1] += line + '\n'
    return entries


def compare_reports(a):
    corpus = corpus_dir(a.corpus)
    files = pick(corpus, a.count)
    tmp = tempfile.mkdtemp(prefix='sa_parity.conf.')
    conf = os.path.join(tmp, 'lmtpd.conf')
    with open(conf, 'w') as f:
        f.write('rules_dir = %s\nspam_report = yes\n' % a.rules)

    def ours_of(path):
        out = subprocess.run([a.lmtpd_score, '-c', conf], input=message_bytes(path),
                             stdout=subprocess.PIPE, check=True).stdout
        return report_header(out)
    try:
        with concurrent.futures.ThreadPoolExecutor(2) as pool:
            ours = dict(zip(files, pool.map(ours_of, files)))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    spamd = Spamd(a.rules, subtests=False,
                  extra='report_safe 0\nadd_header all Report _REPORT_\n')
    try:
        theirs = {f: report_header(spamd.process(message_bytes(f))) for f in files}
    finally:
        spamd.stop()
    same_tests = same_report = entries_both = entries_same = 0
    bad, picked = [], []
    for f in files:
        (h1, t1), (h2, t2) = ours[f], theirs[f]
        if h1 is None or h2 is None:
            bad.append((os.path.relpath(f, corpus), 'no X-Spam-Report', h1, h2))
            continue
        e1, e2 = report_entries(h1), report_entries(h2)
        if t1 == t2:
            same_tests += 1
            # the same rules hit: the same field, but for the order
            first1, first2 = h1.split('\n', 1)[0], h2.split('\n', 1)[0]
            if first1 == first2 and sorted(e1) == sorted(e2) and all(
                    sorted(e1[k]) == sorted(e2[k]) or
                    hash_order_log(e1[k], e2[k], message_bytes(f)) for k in e1):
                same_report += 1
            else:
                bad.append((os.path.relpath(f, corpus), 'whole field', h1, h2))
        for rule in set(e1) & set(e2):
            entries_both += 1
            if sorted(e1[rule]) == sorted(e2[rule]):
                entries_same += 1
            elif hash_order_log(e1[rule], e2[rule], message_bytes(f)):
                entries_same += 1
                picked.append((os.path.relpath(f, corpus), rule, e1[rule], e2[rule]))
            else:
                bad.append((os.path.relpath(f, corpus), rule, e1[rule], e2[rule]))
    print('messages: %d (%s); with the same tests: %d, of which the same '
          'X-Spam-Report but for the order: %d' % (len(files), ', '.join(TRAIN), same_tests,
                                                  same_report))
    print('entries of rules hit on both sides: %d, identical: %d' % (entries_both,
                                                                      entries_same))
    if picked:
        print('entries that differ only in the address logged, another of the '
              "message's, which SpamAssassin picks in Perl hash order: %d" % len(picked))
    for f, what, x, y in (bad + picked)[:a.show]:
        print('\n%s: %s differs\n  lmtpd:        %r\n  SpamAssassin: %r' % (f, what, x, y))
    return 0 if not bad else 1


def hash_order_log(ours, theirs, message):
    """True when two lists of entries of a rule differ only in their
    bracketed test_log lines and every address lmtpd logged is in the
    message: FreeMail's check_freemail_from and _body log the first
    freemail address of a Perl hash, so SpamAssassin's choice among several
    changes from run to run."""
    def split(entries):
        text, logs = [], []
        for e in entries:
            lines = e.split('\n')
            text.append('\n'.join(l for l in lines if not l.startswith('\t*      [')))
            logs += [l for l in lines if l.startswith('\t*      [')]
        return sorted(text), logs
    (t1, l1), (t2, l2) = split(ours), split(theirs)
    if t1 != t2 or len(l1) != len(l2):
        return False
    body = message.decode('latin-1').lower()
    for line in l1:
        for addr in re.split(r'[ ,]+', line[len('\t*      ['):].rstrip(']')):
            if '(at)' in addr and addr.replace('(at)', '@') not in body:
                return False
    return True


if __name__ == '__main__':
    sys.exit(main())
