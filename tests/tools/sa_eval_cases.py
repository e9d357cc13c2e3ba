#!/usr/bin/env python3
"""sa_eval_cases.py - runs the hand-built cases of tests/unit/test_eval.c
through SpamAssassin itself (Debian's spamassassin, Perl API, local tests
only) with the same rule lines, and lists every (case, rule) where
SpamAssassin's verdict differs from what the unit test expects: the unit
tests' expectations are SpamAssassin's, not lmtpd's opinion of itself.

  tests/tools/sa_eval_cases.py BUILDDIR/tests/unit/test_eval

The test program writes its cases when LMTPD_EVAL_CASES_DIR is set.  Exit
status 1 on any difference.  Stdlib only, plus perl and Mail::SpamAssassin."""
import os, shutil, subprocess, sys, tempfile

PERL = r'''
use Mail::SpamAssassin;
my $dir = shift;
my $sa = Mail::SpamAssassin->new({dont_copy_prefs => 1, local_tests_only => 1,
  site_rules_filename => $dir, userprefs_filename => '/dev/null', rules_filename => $dir});
$sa->init(0);
my ($bad, $n) = (0, 0);
for my $f (sort glob("$dir/*.eml")) {
  # $/ stays set during check(): SpamAssassin's chomp() calls depend on it
  my $m = $sa->parse(do { open my $fh, '<', $f; local $/; <$fh> }); my $s = $sa->check($m);
  my %h = map { $_ => 1 } grep { $_ ne '' } split /,/, $s->get_names_of_tests_hit();
  (my $e = $f) =~ s/eml$/exp/; open my $x, '<', $e; my ($names, $exp, $name) = split /\|/, <$x>;
  my %exp = map { $_ => 1 } split / /, $exp;
  $n++;
  for my $r (split / /, $names) {
    next if !!$h{$r} == !!$exp{$r};
    print "$name: $r SpamAssassin=", ($h{$r} ? "hit" : "miss"), " test=", ($exp{$r} ? "hit" : "miss"), "\n";
    $bad++;
  }
  $s->finish;
}
print "$n cases, $bad differences\n";
exit($bad ? 1 : 0);
'''

PLUGINS = ('Check', 'HeaderEval', 'RelayEval', 'MIMEEval', 'HTMLEval', 'BodyEval', 'FreeMail', 'WLBLEval')


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    work = tempfile.mkdtemp(prefix='sa_eval_cases.')
    try:
        subprocess.run([sys.argv[1]], check=True, env=dict(os.environ, LMTPD_EVAL_CASES_DIR=work))
        path = os.path.join(work, 'rules.cf')
        with open(path) as f:
            rules = f.read()
        with open(path, 'w') as f:
            f.write(''.join('loadplugin Mail::SpamAssassin::Plugin::%s\n' % p for p in PLUGINS))
            f.write(rules)
        # SpamAssassin adds its own locale (LANG and friends) to
        # ok_locales; lmtpd, a daemon, does not: keep it out.
        env = {k: v for k, v in os.environ.items()
               if k not in ('LC_ALL', 'LANGUAGE', 'LC_MESSAGES', 'LANG')}
        r = subprocess.run(['perl', '-e', PERL, work], capture_output=True, text=True,
                           env=env)
        for line in (r.stdout + r.stderr).splitlines():
            if 'registryboundaries' not in line:
                print(line)
        return r.returncode
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == '__main__':
    sys.exit(main())
