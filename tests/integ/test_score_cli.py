"""lmtpd-score's command line (issue 3): stdin mode, -r, -e, --lint on
SpamAssassin's own rules, file mode over a file, an mbox and a Maildir
(the line format fixed in DESIGN.md), -p/-u prefs in file mode, and the
exit status when a path can't be read."""
import os
import re
import subprocess

import pytest

import integlib

SA_RULES = "/usr/share/spamassassin"
SCORE = os.path.join(integlib.BUILDDIR, "scoring", "lmtpd-score")

SPAMMY = b"From: a@example.org\nTo: b@example.com\nSubject: offer\n\nbuy now, BUY NOW\n"
HAMMY = b"From: a@example.org\nTo: b@example.com\nSubject: lunch\n\nsee you at noon\n"


def run(*args, data=None):
    return subprocess.run([SCORE] + list(args), input=data, capture_output=True, timeout=120)


@pytest.fixture
def rules(workdir):
    d = os.path.join(workdir, "rules")
    os.makedirs(d)
    with open(os.path.join(d, "50_local.cf"), "w") as f:
        f.write("required_score 5\n"
                "body LOCAL_BUY /\\bbuy now\\b/i\n"
                "tflags LOCAL_BUY multiple\n"
                "describe LOCAL_BUY Says buy now\n"
                "score LOCAL_BUY 3.0\n")
    return d


@pytest.mark.fast
def test_stdin_report_and_exit_code(rules):
    r = run("--rules", rules, data=SPAMMY)
    assert r.returncode == 0, r.stderr
    head = r.stdout.split(b"\n\n", 1)[0]
    assert b"\nX-Spam-Flag: YES\n" in b"\n" + head + b"\n"
    assert re.search(rb"X-Spam-Status: Yes, score=6\.0 required=5\.0 tests=LOCAL_BUY", head)
    assert r.stdout.endswith(b"\n\nbuy now, BUY NOW\n")

    # -r: the end of SpamAssassin's report template, as get_report renders
    # it (a line per hit of a tflags multiple rule, the area before the
    # description, a blank line at the end).
    r = run("--rules", rules, "-r", data=SPAMMY)
    assert r.returncode == 0, r.stderr
    assert r.stdout == (
        b"Content analysis details:   (6.0 points, 5.0 required)\n"
        b"\n"
        b" pts rule name              description\n"
        b"---- ---------------------- --------------------------------------------------\n"
        b" 3.0 LOCAL_BUY              BODY: Says buy now\n"
        b" 3.0 LOCAL_BUY              BODY: Says buy now\n"
        b"\n"), r.stdout

    assert run("--rules", rules, "-e", data=SPAMMY).returncode == 1
    assert run("--rules", rules, "-e", data=HAMMY).returncode == 0


@pytest.mark.fast
def test_stdin_is_one_message(rules):
    """stdin is one message, as for spamassassin: a leading mbox "From "
    line goes back in front of the output, and a "From " line in the body
    is body (it used to end the message there, dropping the rest)."""
    envelope = b"From a@example.org Thu Jan  1 00:00:00 2026\n"
    body = b"buy now\n\nFrom here on, buy now\nthe end\n"
    r = run("--rules", rules, data=envelope + SPAMMY.split(b"\n\n")[0] + b"\n\n" + body)
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith(envelope + b"X-Spam-"), r.stdout
    assert r.stdout.endswith(b"\n\n" + body), r.stdout
    assert b"tests=LOCAL_BUY,LOCAL_BUY " in r.stdout.replace(b"\n\t", b" ")


@pytest.mark.fast
def test_mbox_splits_after_empty_lines(rules, workdir):
    """An mbox message ends at a "From " line after an empty line; an
    unescaped one inside a paragraph stays in its message."""
    mbox = os.path.join(workdir, "x.mbox")
    with open(mbox, "wb") as f:
        f.write(b"From a@example.org Thu Jan  1 00:00:00 2026\n" + HAMMY +
                b"From the desk of: buy now\n"
                b"\nFrom a@example.org Thu Jan  1 00:00:01 2026\n" + HAMMY)
    r = run("--rules", rules, mbox)
    assert r.returncode == 0, r.stderr
    assert r.stdout.decode().splitlines() == [
        "%s:1\t3.0\t5.0\tLOCAL_BUY" % mbox,
        "%s:2\t0.0\t5.0\tnone" % mbox,
    ], r.stdout


@pytest.mark.fast
def test_mbox_message_as_in_its_file(workdir):
    """A message from an mbox is scored as the file it was: without the
    empty line before the next "From " line (or at the end), and with
    ">From " unquoted (mboxrd); a file of one message is read as
    spamassassin reads it."""
    d = os.path.join(workdir, "rules")
    os.makedirs(d)
    with open(os.path.join(d, "50_local.cf"), "w") as f:
        f.write("required_score 5\n"
                "full LOCAL_QUOTED /\\n>From /\nscore LOCAL_QUOTED 1.0\n"
                "full LOCAL_TRAILING /\\n\\n\\z/\nscore LOCAL_TRAILING 2.0\n")
    q = HAMMY + b"From the desk of the boss\n"
    one = os.path.join(workdir, "q.eml")
    with open(one, "wb") as f:
        f.write(q)
    mbox = os.path.join(workdir, "q.mbox")
    with open(mbox, "wb") as f:
        f.write(b"From a@example.org Thu Jan  1 00:00:00 2026\n" +
                q.replace(b"\nFrom the", b"\n>From the") +
                b"\nFrom a@example.org Thu Jan  1 00:00:01 2026\n" + q.replace(
                    b"\nFrom the", b"\n>>From the") + b"\n")
    # One message after a "From " line is that message as it is, as
    # spamassassin reads such a file (the corpus's messages are such).
    single = os.path.join(workdir, "single.txt")
    with open(single, "wb") as f:
        f.write(b"From a@example.org Thu Jan  1 00:00:00 2026\n" +
                q.replace(b"\nFrom the", b"\n>From the") + b"\n")
    r = run("--rules", d, one, mbox, single)
    assert r.returncode == 0, r.stderr
    assert r.stdout.decode().splitlines() == [
        "%s\t0.0\t5.0\tnone" % one,
        "%s:1\t0.0\t5.0\tnone" % mbox,
        "%s:2\t1.0\t5.0\tLOCAL_QUOTED" % mbox,
        "%s\t3.0\t5.0\tLOCAL_QUOTED,LOCAL_TRAILING" % single,
    ], r.stdout


def test_lint_loads_spamassassins_rules_without_error():
    if not os.path.isfile(os.path.join(SA_RULES, "50_scores.cf")):
        pytest.skip("SpamAssassin's rules are not installed (package spamassassin)")
    r = run("--rules", SA_RULES, "--lint")
    out = r.stdout.decode()
    assert r.returncode == 0, out[-3000:]
    assert re.search(r"^\d{4} rules loaded, \d+ skipped, 0 errors$", out, re.M), out[-2000:]
    # What is skipped is said with file:line.
    for line in out.splitlines():
        if "skipped" in line and not line.startswith(("(prefilter)", " ")) and ":" in line \
                and "rules loaded" not in line:
            assert re.match(r"^/usr/share/spamassassin/\w+\.cf:\d+: ", line), line


@pytest.mark.fast
def test_file_mode_lines(rules, workdir):
    one = os.path.join(workdir, "one.eml")
    with open(one, "wb") as f:
        f.write(SPAMMY)
    mbox = os.path.join(workdir, "two.mbox")
    with open(mbox, "wb") as f:
        f.write(b"From a@example.org Thu Jan  1 00:00:00 2026\n" + HAMMY +
                b"\nFrom a@example.org Thu Jan  1 00:00:01 2026\n" + SPAMMY)
    md = os.path.join(workdir, "Maildir")
    for sub in ("cur", "new", "tmp"):
        os.makedirs(os.path.join(md, sub))
    with open(os.path.join(md, "new", "1.host"), "wb") as f:
        f.write(HAMMY)
    r = run("--rules", rules, one, mbox, md)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.decode().splitlines()
    assert lines == [
        "%s\t6.0\t5.0\tLOCAL_BUY,LOCAL_BUY" % one,
        "%s:1\t0.0\t5.0\tnone" % mbox,
        "%s:2\t6.0\t5.0\tLOCAL_BUY,LOCAL_BUY" % mbox,
        "%s/new/1.host\t0.0\t5.0\tnone" % md,
    ], lines

    # -p: the prefs apply in file mode too (the admin's threshold trial).
    prefs = os.path.join(workdir, "prefs")
    with open(prefs, "w") as f:
        f.write("required_score 30\nscore LOCAL_BUY 1.5\n")
    r = run("--rules", rules, "-p", prefs, one)
    assert r.stdout.decode().splitlines() == ["%s\t3.0\t30.0\tLOCAL_BUY,LOCAL_BUY" % one], r.stdout


def test_prefs_escaped_hash(workdir):
    """In user_prefs as in rule files, "\\#" is a '#' and an unescaped
    '#' starts a comment (SpamAssassin's Conf/Parser.pm)."""
    msg = os.path.join(workdir, "m.eml")
    with open(msg, "wb") as f:
        f.write(b"From: a#b@example.org\nTo: b@example.com\nSubject: hi\n\nhello\n")
    prefs = os.path.join(workdir, "prefs")
    with open(prefs, "w") as f:
        f.write("welcomelist_from a\\#b@example.org # the hash one\n")
    r = run("--rules", SA_RULES, "-p", prefs, msg)
    assert r.returncode == 0, r.stderr
    assert "USER_IN_WELCOMELIST" in r.stdout.decode(), r.stdout


@pytest.mark.fast
def test_file_mode_plain_folder(rules, workdir):
    """A folder that is not a Maildir (a Maildir's cur/, say) is read as
    a folder of message files, as sa-learn reads one."""
    cur = os.path.join(workdir, "Maildir", "cur")
    os.makedirs(cur)
    for name, data in (("2.host:2,S", SPAMMY), ("1.host:2,S", HAMMY), (".hidden", SPAMMY)):
        with open(os.path.join(cur, name), "wb") as f:
            f.write(data)
    r = run("--rules", rules, cur)
    assert r.returncode == 0, r.stderr
    assert r.stdout.decode().splitlines() == [
        "%s/1.host:2,S\t0.0\t5.0\tnone" % cur,
        "%s/2.host:2,S\t6.0\t5.0\tLOCAL_BUY,LOCAL_BUY" % cur,
    ], r.stdout


@pytest.mark.fast
def test_file_mode_file_over_50_mb(rules, workdir):
    """A message over 50 MB is not read, and the error says so."""
    big = os.path.join(workdir, "big.eml")
    with open(big, "wb") as f:
        f.write(HAMMY)
        f.truncate(50 * 1024 * 1024 + 1)
    r = run("--rules", rules, big)
    assert r.returncode != 0
    assert "big.eml: file too large (over the 50 MB of one message)" in r.stderr.decode()


def test_file_mode_mbox_over_50_mb(rules, workdir):
    """An mbox over 50 MB is read message by message: every message is
    scored as from a smaller mbox (">From " unquoted, the empty line
    before the next "From " not its own), and one over 50 MB is reported
    and skipped while the rest go on."""
    sep = b"From a@example.org Thu Jan  1 00:00:00 2026\n"
    filler = b"".join(b"filler line %06d of the middle messages\n" % i for i in range(22000))
    big = os.path.join(workdir, "big.mbox")
    expect = []
    with open(big, "wb") as f:
        f.write(sep + SPAMMY + b"\n")
        expect.append("%s:1\t6.0\t5.0\tLOCAL_BUY,LOCAL_BUY" % big)
        f.write(sep + HAMMY + b"x" * 60 + b"\n" + b"y" * (51 * 1024 * 1024) + b"\n\n")
        for n in range(3, 63):
            # a quoted From line in each: unquoted, it is a second hit
            # for the odd ones
            body = (b"buy now\n>From the desk: buy now\n" if n % 2 else
                    b"noon\n>From the desk\n")
            f.write(sep + b"Subject: m%d\n\n" % n + body + filler + b"\n")
            expect.append("%s:%d\t%s" % (big, n, "6.0\t5.0\tLOCAL_BUY,LOCAL_BUY" if n % 2
                                         else "0.0\t5.0\tnone"))
    assert os.path.getsize(big) > 100 * 1024 * 1024
    r = run("--rules", rules, big)
    assert r.returncode == 1
    assert r.stderr.decode().count("\n") == 1, r.stderr
    assert "big.mbox:2: message too large (over the 50 MB of one message); skipped" \
        in r.stderr.decode(), r.stderr
    assert r.stdout.decode().splitlines() == expect


def test_file_mode_mbox_over_50_mb_long_from_line(rules, workdir):
    """An mbox over 50 MB whose "From " line has no end is a message too
    large, reported: the reader stops growing its window at a message's
    limit and must not then go round for ever without reading."""
    big = os.path.join(workdir, "longline.mbox")
    with open(big, "wb") as f:
        f.write(b"From " + b"x" * (60 * 1024 * 1024))
    r = run("--rules", rules, big)
    assert r.returncode == 1
    assert "longline.mbox:1: message too large" in r.stderr.decode(), r.stderr
    assert r.stdout == b"", r.stdout


@pytest.mark.fast
def test_file_mode_unreadable_paths(rules, workdir):
    plain = os.path.join(workdir, "not-a-maildir")
    os.makedirs(plain)
    missing = os.path.join(workdir, "missing.eml")
    good = os.path.join(workdir, "good.eml")
    with open(good, "wb") as f:
        f.write(HAMMY)
    r = run("--rules", rules, missing, plain, good)
    assert r.returncode != 0
    err = r.stderr.decode()
    assert "missing.eml: No such file or directory" in err, err
    assert "not-a-maildir: no messages in the folder" in err, err
    # The readable one is still scored.
    assert r.stdout.decode().splitlines() == ["%s\t0.0\t5.0\tnone" % good]


@pytest.mark.fast
def test_file_mode_maildir_half_unreadable(rules, workdir):
    """A Maildir whose cur/ can not be read (here a symlink to itself,
    which even root can not open): its messages in new/ are scored, and
    the missed cur/ is said and makes the exit status non-zero, as for
    any path not read (it was skipped without a word, exit 0; lmtpd-learn
    reads its paths the same way)."""
    md = os.path.join(workdir, "Maildir")
    for sub in ("new", "tmp"):
        os.makedirs(os.path.join(md, sub))
    os.symlink("cur", os.path.join(md, "cur"))
    with open(os.path.join(md, "new", "1.host"), "wb") as f:
        f.write(HAMMY)
    r = run("--rules", rules, md)
    assert r.returncode != 0
    err = r.stderr.decode()
    assert "%s/cur: Too many levels of symbolic links" % md in err, err
    assert r.stdout.decode().splitlines() == ["%s/new/1.host\t0.0\t5.0\tnone" % md]


@pytest.mark.fast
def test_file_mode_fifos_symlinks_and_empty_files(rules, workdir):
    """What is not a message is said, never waited on or walked: a FIFO
    without a writer given as a path reads as empty; inside a Maildir only
    regular files are messages (a symlink to ".." made the walk
    exponential, a FIFO held the tool); an empty file is no message."""
    md = os.path.join(workdir, "Maildir")
    for sub in ("cur", "new", "tmp"):
        os.makedirs(os.path.join(md, sub))
    good = os.path.join(md, "cur", "1.host:2,S")
    with open(good, "wb") as f:
        f.write(HAMMY)
    os.symlink("..", os.path.join(md, "cur", "loop1"))
    os.symlink("..", os.path.join(md, "cur", "loop2"))
    os.mkfifo(os.path.join(md, "new", "fifo"))
    fifo = os.path.join(workdir, "fifo")
    os.mkfifo(fifo)
    empty = os.path.join(workdir, "empty.eml")
    open(empty, "wb").close()
    r = run("--rules", rules, md, fifo, empty)
    assert r.returncode == 1
    assert r.stdout.decode().splitlines() == ["%s\t0.0\t5.0\tnone" % good]
    err = r.stderr.decode()
    for name in ("cur/loop1", "cur/loop2", "new/fifo"):
        assert "%s: not a regular file; skipped" % os.path.join(md, name) in err, err
    assert "%s: empty file, no message" % fifo in err, err
    assert "%s: empty file, no message" % empty in err, err


@pytest.mark.fast
def test_jobs_write_whole_lines(rules, workdir):
    """-j 3 over 300 messages, read through a pipe: each process writes
    its lines in batches, and every line arrives whole, once, the same as
    with one process (long file names make some batches hold few lines)."""
    files = []
    for i in range(300):
        name = os.path.join(workdir, "m%03d-%s.eml" % (i, "x" * (i * 7 % 230)))
        with open(name, "wb") as f:
            f.write(SPAMMY if i % 3 == 0 else HAMMY)
        files.append(name)
    one = run("--rules", rules, *files)
    assert one.returncode == 0, one.stderr
    jobs = run("--rules", rules, "-j", "3", *files)
    assert jobs.returncode == 0, jobs.stderr
    lines = jobs.stdout.decode().splitlines()
    assert len(lines) == 300
    assert sorted(lines) == sorted(one.stdout.decode().splitlines())
    for line in lines:
        name, score, required, tests = line.split("\t")
        assert os.path.basename(name).startswith("m") and name.endswith(".eml"), line
        assert tests == ("LOCAL_BUY,LOCAL_BUY" if score == "6.0" else "none"), line


@pytest.mark.fast
def test_bad_command_lines_refused(rules, workdir):
    """A -j that is not a whole number in range, and --hits with no path
    (the message on stdin came back with headers, the hits nowhere), are
    usage errors that say what is wrong."""
    msg = os.path.join(workdir, "m.eml")
    with open(msg, "wb") as f:
        f.write(HAMMY)
    for j in ("2x", "0", "257", "", "-1"):
        r = run("--rules", rules, "-j", j, msg)
        assert r.returncode == 2 and b"-j takes a number from 1 to 256" in r.stderr, (j, r)
    r = run("--rules", rules, "--hits", data=SPAMMY)
    assert r.returncode == 2 and b"--hits takes PATH arguments" in r.stderr, r
    assert r.stdout == b""
    r = run("--rules", rules, "-j", "2", "--hits", msg)
    assert r.returncode == 0 and r.stdout.startswith(msg.encode() + b"\t"), r


@pytest.mark.fast
def test_user_found_as_the_daemon_finds_it(workdir):
    """-u finds the recipient's prefs as the daemon does at RCPT: case
    folded, without its +detail, through the users map's home=; one the
    daemon would refuse is an error (exit 2).  It expanded the home
    template from the string as given."""
    home = os.path.join(workdir, "home")
    for who, req in (("example.com/alice", "2"), ("carol-home", "3")):
        d = os.path.join(home, who, ".spamassassin")
        os.makedirs(d)
        with open(os.path.join(d, "user_prefs"), "w") as f:
            f.write("required_score %s\n" % req)
    conf = os.path.join(workdir, "lmtpd.conf")
    with open(conf, "w") as f:
        f.write("home = %s/%%d/%%n\nstate_dir = %s/state\n" % (home, workdir))
    msg = os.path.join(workdir, "m.eml")
    with open(msg, "wb") as f:
        f.write(HAMMY)

    def required(*args):
        r = run("-c", conf, "--rules", SA_RULES, *args, msg)
        assert r.returncode == 0, r.stderr
        return r.stdout.decode().split("\t")[2]

    for user in ("alice@example.com", "Alice+lists@Example.COM", "ALICE@example.com"):
        assert required("-u", user) == "2.0", user
    assert required("-u", "bob@example.com") == "5.0"
    r = run("-c", conf, "--rules", SA_RULES, "-u", "a/b@example.com", msg)
    assert r.returncode == 2 and b"-u a/b@example.com: unusable address" in r.stderr, r

    users = os.path.join(workdir, "users")
    with open(users, "w") as f:
        f.write("carol@example.com home=%s/carol-home\nalice@example.com\n" % home)
    subprocess.run([integlib.LMTPD_MAP, users], check=True, timeout=30)
    with open(conf, "a") as f:
        f.write("users = %s\n" % users)
    assert required("-u", "Carol+x@example.com") == "3.0"
    assert required("-u", "alice@example.com") == "2.0"
    r = run("-c", conf, "--rules", SA_RULES, "-u", "dave@example.com", msg)
    assert r.returncode == 2 and b"-u dave@example.com: not in users map" in r.stderr, r
