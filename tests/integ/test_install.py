"""make install (into a DESTDIR): the programs, the man pages, the sample
config, the sample sieve_before script and the systemd unit land where
README says, and the installed lmtpd accepts the installed sample config
and the unit's paths; the installed lmtpd-sieve accepts the sample
script."""
import os
import re
import shutil
import subprocess

import pytest

import integlib


def configured(var):
    """A variable of the build tree's Makefile (prefix, sysconfdir...)."""
    with open(os.path.join(integlib.BUILDDIR, "Makefile")) as f:
        for line in f:
            m = re.match(r"^%s = (.*)$" % re.escape(var), line)
            if m:
                return m.group(1).strip()
    raise AssertionError("%s not in the Makefile" % var)


def expand(value):
    prefix = configured("prefix")
    value = value.replace("${prefix}", prefix)
    return value.replace("${exec_prefix}", configured("exec_prefix").replace("${prefix}", prefix))


@pytest.mark.fast
def test_make_install_destdir(workdir):
    dest = os.path.join(workdir, "dest")
    r = subprocess.run(["make", "-s", "-C", integlib.BUILDDIR, "install", "DESTDIR=" + dest],
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    prefix = configured("prefix")
    sbindir = expand(configured("sbindir"))
    bindir = expand(configured("bindir"))
    sysconfdir = expand(configured("sysconfdir"))
    mandir = expand(configured("mandir").replace("${datarootdir}", configured("datarootdir")))

    def at(path):
        return dest + path

    for prog in (sbindir + "/lmtpd", sbindir + "/lmtpd-map",
                 bindir + "/lmtpd-sieve", bindir + "/lmtpd-score", bindir + "/lmtpd-learn"):
        assert os.access(at(prog), os.X_OK), prog
    pages = ("man8/lmtpd.8", "man5/lmtpd.conf.5", "man8/lmtpd-map.8",
             "man1/lmtpd-sieve.1", "man1/lmtpd-score.1", "man1/lmtpd-learn.1")
    for page in pages:
        assert os.path.isfile(at(mandir + "/" + page)), page
    sample = at(sysconfdir + "/lmtpd/lmtpd.conf.sample")
    unit = at(prefix + "/lib/systemd/system/lmtpd.service")
    assert os.path.isfile(sample)
    with open(unit) as f:
        text = f.read()
    # The unit names the installed daemon and config, checks before start.
    assert "ExecStart=%s/lmtpd -f -c %s/lmtpd/lmtpd.conf" % (sbindir, sysconfdir) in text
    assert "ExecStartPre=%s/lmtpd -t -c %s/lmtpd/lmtpd.conf" % (sbindir, sysconfdir) in text
    assert not re.search(r"@[a-z_]+@", text), text

    # The sample sieve_before script: valid, and it files a message
    # scored 5 or more into Junk, the rest stays in INBOX.
    junk = at(sysconfdir + "/lmtpd/sieve/before.d/10-junk.sieve")
    assert os.path.isfile(junk)
    lmtpd_sieve = at(bindir + "/lmtpd-sieve")
    r = subprocess.run([lmtpd_sieve, junk], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and r.stdout == "%s: valid\n" % junk, r.stdout + r.stderr
    for score, action in (("7", 'fileinto "Junk"'), ("4", "keep")):
        msg = os.path.join(workdir, "score-%s.eml" % score)
        with open(msg, "w") as f:
            f.write("X-Spam-Score: %s\nFrom: a@example.org\nSubject: s\n\nbody\n" % score)
        r = subprocess.run([lmtpd_sieve, "-e", "from=a@example.org",
                            "-e", "to=bob@example.com", junk, msg],
                           capture_output=True, text=True, timeout=60)
        assert r.returncode == 0, r.stderr
        assert r.stdout.splitlines()[1].strip().startswith(action), r.stdout

    # The installed daemon checks the installed sample config; -n shows
    # the built-in defaults it was configured with.
    r = subprocess.run([at(sbindir + "/lmtpd"), "-t", "-c", sample],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    r = subprocess.run([at(sbindir + "/lmtpd"), "-n", "-c", sample],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert re.search(r"^listen = 127\.0\.0\.1:2424$", r.stdout, re.M), r.stdout
    # Every page renders without a warning from groff (what --warnings
    # asks for) wherever man is installed.
    if shutil.which("man") is None:
        pytest.skip("man (package man-db) is not installed: pages not rendered")
    for page in pages:
        r = subprocess.run(["man", "--warnings", "-l", "-P", "cat", at(mandir + "/" + page)],
                           capture_output=True, text=True, timeout=60,
                           env=dict(os.environ, MANWIDTH="80"))
        assert r.returncode == 0, (page, r.stderr)
        assert r.stderr == "", (page, r.stderr)
        name = os.path.basename(page).rsplit(".", 1)[0]
        assert re.search(r"^NAME\n\s+%s\b" % re.escape(name), r.stdout, re.M), \
            (page, r.stdout[:500])


SRCDIR = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _seconds(text):
    """A documented time ("1s", "1h", "1d") or number, in seconds."""
    m = re.match(r"^(\d+)([smhd]?)$", text)
    assert m, text
    return int(m.group(1)) * {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}[m.group(2)]


def _documented_keys():
    """lmtpd.conf(5)'s keys in page order: (key, default or None for a
    text default, range text)."""
    import shlex
    keys = []
    with open(os.path.join(SRCDIR, "doc", "lmtpd.conf.5")) as f:
        for line in f:
            m = re.match(r'^\.BR (\w+)(?: ", " (\w+))? " \(default: (.*)$', line)
            if not m:
                continue
            rest = m.group(3)
            if rest.startswith('" '):
                words = shlex.split(rest[2:])
                default, extra = words[0], " ".join(words[1:])
            else:
                # "empty, none", "unset, ...", "the system's host name"
                default = "" if re.match(r"(empty|unset)\b", rest) else None
                extra = ""
            for key in filter(None, (m.group(1), m.group(2))):
                keys.append((key, default, extra))
    return keys


@pytest.mark.fast
def test_documented_keys_defaults_and_ranges(workdir):
    """Every key lmtpd knows is in lmtpd.conf(5), the sample config and
    README, in the order lmtpd -n prints them, with the defaults it uses;
    each range the page gives holds at both ends and not past them."""
    sysconfdir = expand(configured("sysconfdir"))
    localstatedir = expand(configured("localstatedir"))
    r = subprocess.run([integlib.LMTPD, "-n"], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    effective = [line.split(" =", 1) for line in r.stdout.splitlines()]
    effective = [(k, v.strip()) for k, v in effective]
    values = dict(effective)

    def built_in(text):
        return text.replace("LOCALSTATEDIR", localstatedir).replace("SYSCONFDIR", sysconfdir)

    page = _documented_keys()
    assert [k for k, _, _ in page] == [k for k, _ in effective]
    for key, default, _ in page:
        if default is not None:
            assert built_in(default) == values[key], key

    # The sample: every key, in the same order, commented out at its
    # default as a build with --localstatedir=/var --sysconfdir=/etc has it.
    sample = []
    with open(os.path.join(SRCDIR, "etc", "lmtpd.conf.sample")) as f:
        for line in f:
            m = re.match(r"^#(\w+) =(.*)$", line)
            if m and m.group(1) not in [k for k, _ in sample]:
                sample.append((m.group(1), m.group(2).strip()))
    assert [k for k, _ in sample] == [k for k, _ in effective]
    for key, default, _ in page:
        if default is not None:
            want = default.replace("LOCALSTATEDIR", "/var").replace("SYSCONFDIR", "/etc")
            assert dict(sample)[key] == want, key

    # README's tables: every key, with the page's default and range.
    with open(os.path.join(SRCDIR, "README.md")) as f:
        readme = f.read()
    for key, default, extra in page:
        m = re.search(r"^\| `%s`(?:, `\w+`)? \| ([^|]*) \|" % key, readme, re.M) or \
            re.search(r"^\| `\w+`, `%s` \| ([^|]*) \|" % key, readme, re.M)
        assert m, "README has no row for %s" % key
        cell = m.group(1)
        if default:
            assert cell.startswith("`%s`" % default), (key, cell)
        rng = re.search(r"from (\S+) to ([^)\s]+)\)", extra)
        if rng:
            assert "(%s to %s)" % rng.groups() in cell, (key, cell)

    conf = os.path.join(workdir, "range.conf")

    def check(key, value):
        with open(conf, "w") as f:
            f.write("# a range\n%s = %s\n" % (key, value))
        return subprocess.run([integlib.LMTPD, "-t", "-c", conf], capture_output=True,
                              text=True, timeout=60)

    ranged = 0
    for key, default, extra in page:
        m = re.search(r"from (\S+) to ([^)\s]+)\)", extra)
        low = high = None
        if m:
            low, high = m.groups()
        m = re.search(r"at least (\d+)", extra)
        if m:
            low = m.group(1)
        if low is None:
            continue
        ranged += 1
        for ok in (low, high):
            if ok is not None:
                r = check(key, ok)
                assert r.returncode == 0, (key, ok, r.stderr)
        bad = [str(_seconds(high) + 1)] if high is not None else []
        if _seconds(low) > 0:
            bad.append(str(_seconds(low) - 1))
        for value in bad:
            r = check(key, value)
            assert r.returncode == 1, (key, value, r.stdout)
            assert re.search(r"range\.conf:2: '%s' must be" % key, r.stderr), (key, r.stderr)
    assert ranged >= 10


@pytest.mark.fast
def test_help_and_usage_errors():
    """-h and --help print the usage on stdout and exit 0, as a user who
    asked expects; an unknown option prints it on stderr and exits 2."""
    tools = [os.path.join(integlib.BUILDDIR, t) for t in
             ("lmtpd/lmtpd", "lmtpd/lmtpd-map", "sieve/lmtpd-sieve",
              "scoring/lmtpd-score", "scoring/lmtpd-learn")]
    for tool in tools:
        name = os.path.basename(tool)
        for args in (["-h"], ["--help"], ["-c", "/nonexistent", "--help"]):
            if name == "lmtpd-map" and len(args) > 1:
                continue
            r = subprocess.run([tool] + args, capture_output=True, text=True, timeout=30)
            assert (r.returncode, r.stderr) == (0, ""), (name, args, r)
            assert r.stdout.startswith("usage: %s " % name), (name, args, r.stdout)
        if name == "lmtpd-map":
            continue    # it takes no options: -z would be a file name
        r = subprocess.run([tool, "-z"], capture_output=True, text=True, timeout=30)
        assert r.returncode == 2 and r.stdout == "", (name, r)
        assert "usage: %s " % name in r.stderr, (name, r.stderr)
