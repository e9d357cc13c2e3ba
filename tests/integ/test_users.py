"""Recipients: the users map (lmtpd-map, rebuilt without a restart),
recipient_delimiter, case-insensitive local parts, and addresses that try
to steer a path (DESIGN invariant 5: refused with 501 5.1.3, nothing
created outside the mail root)."""
import os
import re
import subprocess

import pytest

import integlib
from integlib import deliveries, make_message, read_new, split_trace, trace_dict, all_files
from test_protocol import chown_run_user, compile_map


@pytest.mark.fast
def test_users_map_and_rebuild_without_restart(lmtpd_factory, workdir):
    homes = os.path.join(workdir, "homes")
    os.makedirs(homes)
    chown_run_user(homes)
    users = os.path.join(workdir, "users")
    entries = [
        "# comment line",
        "Alice@Example.COM   home=%s/alice" % homes,
        "bob@example.com     mail_location=%h/Mail",
        "carl@example.com    home=%s/%%n-home" % homes,
        "    mail_location=%h/Box",
        "@catchall.example   home=%s/catch/%%n" % homes,
    ]
    compile_map(users, "\n".join(entries) + "\n")
    d = lmtpd_factory(users=users)

    msg = make_message("mapped")
    rcpts = ["alice@example.com", "bob@example.com", "carl@example.com",
             "anyone@catchall.example", "nobody@example.com", "dave@example.com"]
    with d.client() as c:
        c.lhlo()
        t = c.transaction("s@example.org", rcpts, msg)
        assert [r.code for r in t.rcpts] == [250, 250, 250, 250, 550, 550]
        assert t.final_codes() == [250] * 4
        assert all(r.enh == "5.1.1" for r in t.rcpts[4:])

        # Rebuild the map: dave appears, alice goes; the same session
        # (and so the same worker) sees it at the next RCPT.
        compile_map(users, "\n".join(entries[2:] + ["dave@example.com home=%s/dave" % homes])
                    + "\n")
        assert c.cmd("RSET").code == 250
        t2 = c.transaction("s@example.org", ["dave@example.com", "alice@example.com"], msg)
        c.quit()
    assert [r.code for r in t2.rcpts] == [250, 550]
    assert t2.final_codes() == [250]

    for md in (homes + "/alice/Maildir", d.mail + "/example.com/bob/Mail",
               homes + "/carl-home/Box", homes + "/catch/anyone/Maildir",
               homes + "/dave/Maildir"):
        files = read_new(md)
        assert len(files) == 1, md
        assert split_trace(files[0])[1] == msg
    log = d.log()
    assert len(re.findall(r"reject: RCPT from unix: 550 5\.1\.1 .*\(not in users map\)", log)) == 3
    assert [x["to"] for x in deliveries(log, t.queue_id)] == rcpts[:4]


@pytest.mark.fast
def test_users_map_not_compiled_is_temporary(lmtpd_factory, workdir):
    """users points at a map whose .db is missing: -t says so, and RCPT
    gets 451 4.3.0 (the MTA retries), never a bounce."""
    users = os.path.join(workdir, "users")
    with open(users, "w") as f:
        f.write("a@example.com home=/nonexistent\n")
    d = lmtpd_factory(users=users, start=False)
    r = subprocess.run([integlib.LMTPD, "-t", "-c", d.conf_path], capture_output=True, text=True)
    assert r.returncode != 0 and "run lmtpd-map %s" % users in r.stderr
    d.start()
    with d.client() as c:
        c.lhlo()
        c.send("MAIL FROM:<s@example.org>\r\nRCPT TO:<a@example.com>\r\n")
        assert c.reply().code == 250
        r = c.reply()
        assert (r.code, r.enh) == (451, "4.3.0")
        c.quit()
    assert "users map: stat(%s.db) failed" % users in d.log()


@pytest.mark.fast
def test_recipient_delimiter_and_case(lmtpd_factory):
    """Default delimiter '+'; a configured set of delimiters ("+-"); no
    delimiter at all.  Local parts and domains are lowercased: Maildir,
    Delivered-To and the log's to= use the lowercased form, orig_to= what
    was given."""
    msg = make_message("delim")
    d = lmtpd_factory()
    t = d.deliver(["BoB+News@Example.COM", "bob@example.com", "Bob-list@example.com"], msg)
    assert t.final_codes() == [250, 250, 250]
    bob = d.mail + "/example.com/bob/Maildir"
    got = sorted(trace_dict(split_trace(f)[0])["Delivered-To"] for f in read_new(bob))
    assert got == ["bob+news@example.com", "bob@example.com"]
    assert len(read_new(d.mail + "/example.com/bob-list/Maildir")) == 1
    lines = deliveries(d.log(), t.queue_id)
    assert (lines[0]["to"], lines[0]["orig_to"]) == ("bob+news@example.com",
                                                     "BoB+News@Example.COM")
    assert (lines[1]["to"], lines[1]["orig_to"]) == ("bob@example.com", None)

    d2 = lmtpd_factory(name="multi", recipient_delimiter="+-")
    t = d2.deliver(["carol-list@example.com", "Carol+x@example.com", "carol@example.com"], msg)
    assert t.final_codes() == [250] * 3
    files = read_new(d2.mail + "/example.com/carol/Maildir")
    assert sorted(trace_dict(split_trace(f)[0])["Delivered-To"] for f in files) == [
        "carol+x@example.com", "carol-list@example.com", "carol@example.com"]

    d3 = lmtpd_factory(name="none", recipient_delimiter="")
    t = d3.deliver(["dan+x@example.com"], msg)
    assert t.final_codes() == [250]
    assert len(read_new(d3.mail + "/example.com/dan+x/Maildir")) == 1
    assert not os.path.exists(d3.mail + "/example.com/dan")


PATH_TRICKS = [
    "../../../tmp/evil@example.com",
    "a/../../evil@example.com",
    "/etc/evil@example.com",
    "evil@../../tmp",
    "evil@example.com/../../../tmp",
    '"../evil"@example.com',
    '"a/b"@example.com',
    "evil@.",
    "evil@..",
    "..@example.com",
    ".hidden@example.com",
    "a..b@example.com",
    "evil@example..com",
    "evil@.example.com",
    '".."@example.com',
]


@pytest.mark.fast
def test_path_tricks_refused(lmtpd):
    """Every address that could leave the mail root gets 501 5.1.3 at
    RCPT and creates nothing; a detail that looks like a path is only a
    detail.  The session stays usable throughout."""
    msg = make_message("tricks")
    with lmtpd.client() as c:
        c.lhlo()
        c.send("MAIL FROM:<s@example.org> SMTPUTF8\r\n")
        assert c.reply().code == 250
        for a in PATH_TRICKS:
            r = c.cmd("RCPT TO:<%s>" % a)
            assert (r.code, r.enh) == (501, "5.1.3"), (a, r)
        # Invalid UTF-8, a control character in the local part, and valid
        # UTF-8 that would show one mailbox as another in ls (a C1
        # control, refused with the path; RIGHT-TO-LEFT OVERRIDE and a
        # ZERO WIDTH SPACE, refused as unusable).
        for raw in (b"RCPT TO:<\xff\xfe@example.com>\r\n", b"RCPT TO:<ev\x01il@example.com>\r\n",
                    b"RCPT TO:<ev\xc2\x85il@example.com>\r\n",
                    b"RCPT TO:<\xe2\x80\xaelive@example.com>\r\n",
                    b"RCPT TO:<li\xe2\x80\x8bve@example.com>\r\n"):
            c.send(raw)
            r = c.reply()
            assert (r.code, r.enh) == (501, "5.1.3"), (raw, r)
        r = c.cmd("RCPT TO:<evil+../../../tmp/x@example.com>")
        assert r.code == 250
        c.send("DATA\r\n")
        assert c.reply().code == 354
        c.send(integlib.wire(msg))
        r = c.reply()
        assert r.code == 250
        c.quit()
    [f] = read_new(lmtpd.maildir("evil@example.com"))
    # ".." is no dot-string: quoted again, as Postfix writes it
    assert trace_dict(split_trace(f)[0])["Delivered-To"] == '"evil+../../../tmp/x"@example.com'
    # Nothing but that one message under the mail root.
    assert [p for p in all_files(lmtpd.mail)] == [
        os.path.relpath(p, lmtpd.mail) for p in integlib.maildir_new(lmtpd.maildir("evil@example.com"))]
    assert sorted(os.listdir(lmtpd.mail)) == ["example.com"]
    assert sorted(os.listdir(lmtpd.mail + "/example.com")) == ["evil"]
    assert not os.path.exists("/tmp/evil") and not os.path.exists("/etc/evil")
    log = lmtpd.log()
    assert len(re.findall(r"reject: RCPT from unix: 501 5\.1\.3 .*\(unusable address: ", log)) \
        == len(PATH_TRICKS) + 3
    assert "(unusable address: local part has a control, bidirectional formatting or " \
        "invisible character)" in log


@pytest.mark.fast
def test_address_forms(lmtpd):
    """Forms the MTA may hand over, each in one home under the mail root:
    a quoted local part (unquoted on disk), a source route (dropped), the
    percent hack and '!' (plain characters here), "postmaster" alone (the
    local host's), upper case, an address literal, and details that look
    like paths or hidden files (only details)."""
    where = {
        '"john smith"@example.com': "example.com/john smith",
        '"a\\"b"@example.com': 'example.com/a"b',
        "@relay.example,@mx.example:route@example.com": "example.com/route",
        "user%other.example@example.com": "example.com/user%other.example",
        "host!user@example.com": "example.com/host!user",
        "postmaster": "lmtpd.test/postmaster",
        "MiXeD@Example.COM": "example.com/mixed",
        "lit@[192.0.2.1]": "[192.0.2.1]/lit",
        "det+.hidden@example.com": "example.com/det",
        "det+a/b@example.com": "example.com/det",
        "det+../../x@example.com": "example.com/det",
    }
    t = lmtpd.deliver(list(where), make_message("forms"))
    assert t.final_codes() == [250] * len(where), t.rcpts
    homes = {}
    for f in all_files(lmtpd.mail):
        home = f.split("/Maildir/")[0]
        homes[home] = homes.get(home, 0) + 1
    assert homes == {"example.com/john smith": 1, 'example.com/a"b': 1,
                     "example.com/route": 1, "example.com/user%other.example": 1,
                     "example.com/host!user": 1, "lmtpd.test/postmaster": 1,
                     "example.com/mixed": 1, "[192.0.2.1]/lit": 1, "example.com/det": 3}
    assert set(where.values()) == set(homes)


@pytest.mark.fast
def test_damaged_users_map_logged(lmtpd_factory, workdir):
    """A users.db that is not a database: RCPT gets 451 4.3.0, and
    Berkeley DB's own complaints reach the log as a few prefixed lines,
    not as raw text on stderr."""
    users = os.path.join(workdir, "users")
    with open(users, "w") as f:
        f.write("a@example.com\n")
    with open(users + ".db", "wb") as f:
        f.write(os.urandom(8192))
    d = lmtpd_factory(users=users)
    for _ in range(2):
        with d.client() as c:
            c.lhlo()
            c.send("MAIL FROM:<s@example.org>\r\nRCPT TO:<a@example.com>\r\n")
            assert c.reply().code == 250
            r = c.reply()
            assert (r.code, r.enh) == (451, "4.3.0")
            c.quit()
    d.wait_log(r"disconnect from unix", count=2)
    log = d.log()
    stray = [l for l in log.splitlines() if not l.startswith("lmtpd[")]
    assert stray == []
    assert 0 < log.count("Berkeley DB: ") <= 2 * 4
