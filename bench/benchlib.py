"""benchlib.py - what the python bench scripts share (stdlib only).

install() puts the Debian packages a bench needs in place with apt-get,
the way the bench scripts always did it: only those missing, only when
allowed (the scripts' --no-install refuses instead), non-interactively.
tree_cpu() and median() measure; bayes_rules() makes the rule folder of
"Bayes alone" (bayes-bench, bayes-daemon).
"""
import os
import shutil
import subprocess
import sys

# What lmtpd-score needs to run Bayes alone: the prefs, the BAYES_* rules,
# the stopwords; other files contribute their bayes_* settings, BAYES_*
# scores and what decides a URI's domain (the UD: tokens): the registry
# boundaries and the redirector patterns.
BAYES_FILES = ['10_default_prefs.cf', '23_bayes.cf', '60_bayes_stopwords.cf']
BAYES_LINES = ('bayes_', 'score BAYES_', 'util_rb_', 'clear_util_rb', 'redirector_pattern')


def missing_packages(pkgs):
    """The packages of pkgs that dpkg does not list as installed."""
    return [p for p in pkgs if 'ok installed' not in subprocess.run(
        ['dpkg-query', '-W', '-f=${Status}', p], capture_output=True,
        text=True).stdout]


def install(pkgs, allowed, prog):
    """Installs the missing ones of pkgs, or exits naming them when not
    allowed; prog prefixes the messages."""
    missing = missing_packages(pkgs)
    if not missing:
        return
    if not allowed:
        sys.exit('%s: missing packages: %s' % (prog, ' '.join(missing)))
    print('%s: installing %s' % (prog, ' '.join(missing)), file=sys.stderr, flush=True)
    subprocess.run(['apt-get', 'update', '-qq'], check=True)
    subprocess.run(['apt-get', 'install', '-y', '-qq'] + missing, check=True,
                   env=dict(os.environ, DEBIAN_FRONTEND='noninteractive'))


def tree_cpu(pid):
    """CPU seconds of a daemon and its children: its own, its reaped
    children's and its live children's (spamd replaces its children)."""
    total = 0
    for d in os.listdir('/proc'):
        if not d.isdigit():
            continue
        try:
            with open('/proc/%s/stat' % d) as f:
                st = f.read()
        except OSError:
            continue
        # fields after "(comm) ": state, ppid, ... utime, stime, cutime, cstime
        f = st[st.rindex(')') + 2:].split()
        if int(d) == pid:
            total += sum(int(x) for x in f[11:15])
        elif int(f[1]) == pid:
            total += int(f[11]) + int(f[12])
    return total / os.sysconf('SC_CLK_TCK')


def median(xs):
    xs = sorted(xs)
    return xs[len(xs) // 2] if len(xs) % 2 else (xs[len(xs) // 2 - 1] + xs[len(xs) // 2]) / 2


def bayes_rules(rules, dest, extra_lines=()):
    """A rule directory holding only what Bayes needs of rules (plus
    extra_lines, appended)."""
    os.makedirs(dest)
    extra = []
    for name in sorted(os.listdir(rules)):
        if not name.endswith('.cf'):
            continue
        if name in BAYES_FILES:
            shutil.copy(os.path.join(rules, name), dest)
            continue
        with open(os.path.join(rules, name), encoding='utf-8', errors='replace') as f:
            extra += [ln for ln in f if ln.startswith(BAYES_LINES)]
    with open(os.path.join(dest, '50_bayes.cf'), 'w') as f:
        f.writelines(extra)
        f.writelines(ln + '\n' for ln in extra_lines)
    return dest
