"""kill -9 under load (DESIGN invariants 1 and 2): several clients send
messages while workers, the master, or the whole daemon are killed at
random moments and lmtpd is restarted.  Afterwards every recipient that
got 250 has its message in new/ exactly once and complete, nothing in
new/ is partial or doubled, and every 250 has its status=sent log line."""
import collections
import os
import random
import re
import signal
import threading
import time

import pytest

import integlib
from integlib import (ConnectionClosed, LmtpClient, check_maildir_names, deliveries,
                      maildir_new, split_trace, trace_dict)

USERS = ["crash%d@example.com" % i for i in range(3)]
CLIENTS = 4
KILLS = 32      # four rounds of the plan below, 0.05 to 0.35 s apart
MIN_OK = 50     # 250s wanted in all (kills or not) before the checks


def message_for(mid, size):
    """A message whose every byte depends on its id, so a partial or
    mixed-up file can not pass for a complete one."""
    head = ("From: <load@example.org>\nSubject: crash %s\nMessage-ID: <%s@crash.test>\n\n"
            % (mid, mid)).encode()
    line = ("%s payload line\n" % mid).encode()
    body = line * max(1, (size - len(head)) // len(line))
    return head + body


class Load:
    def __init__(self, d, seed):
        self.d = d
        self.seed = seed
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.sent = {}                        # mid -> message bytes
        self.replies = {}                     # (mid, rcpt) -> (code, reply line)
        self.errors = collections.Counter()

    def run_client(self, n):
        rnd = random.Random(self.seed * 100 + n)
        seq = 0
        while not self.stop.is_set():
            try:
                c = LmtpClient(self.d.sock, timeout=15)
            except OSError:
                time.sleep(0.02)
                continue
            try:
                c.lhlo()
                # A few transactions per connection, then a new one, as
                # an MTA's connection cache does.
                for _ in range(rnd.randrange(1, 8)):
                    if self.stop.is_set():
                        break
                    seq += 1
                    self.one(c, rnd, "c%d-%d" % (n, seq))
                c.quit()
            except (OSError, ConnectionClosed, AssertionError) as e:
                with self.lock:
                    self.errors[type(e).__name__] += 1
            finally:
                c.close()

    def one(self, c, rnd, mid):
        size = rnd.choice([300, 4000, 30000, 200000, 200000, 900000, 1600000])
        msg = message_for(mid, size)
        rcpts = rnd.sample(USERS, rnd.choice([1, 1, 2, 3]))
        with self.lock:
            self.sent[mid] = msg
        c.send(b"MAIL FROM:<load@example.org>\r\n" +
               b"".join(b"RCPT TO:<%s>\r\n" % a.encode() for a in rcpts) + b"DATA\r\n")
        assert c.reply().code == 250
        accepted = [a for a in rcpts if c.reply().code == 250]
        if c.reply().code != 354:
            return
        c.send(integlib.wire(msg))
        # Record each final reply as it comes: the connection may die
        # between two of them.
        for a in accepted:
            r = c.reply()
            with self.lock:
                self.replies[(mid, a)] = (r.code, r.line)


def kill_workers(d, rnd):
    pids = d.workers()
    if pids:
        os.kill(rnd.choice(pids), signal.SIGKILL)


def restart(d):
    """Starts lmtpd again, as a service manager's Restart= would: again
    while the workers of the killed master still hold the socket (one
    busy delivering takes its stop signal only after that)."""
    deadline = time.monotonic() + 30
    while True:
        mark = d.log_size()
        d.start(wait=False)
        try:
            d.wait_listening()
            return
        except AssertionError:
            if ("another process is listening" not in d.log_since(mark)
                    or time.monotonic() > deadline):
                raise
            time.sleep(0.1)


def kill_master(d):
    os.kill(d.pid, signal.SIGKILL)
    d.proc.wait(10)
    restart(d)


def kill_everything(d):
    os.killpg(d.pid, signal.SIGKILL)
    d.proc.wait(10)
    restart(d)


@pytest.mark.worker_deaths
def test_kill9_under_load(lmtpd_factory):
    d = lmtpd_factory(workers="4")
    rnd = random.Random(20261122)
    load = Load(d, 7)
    threads = [threading.Thread(target=load.run_client, args=(n,), daemon=True)
               for n in range(CLIENTS)]
    for t in threads:
        t.start()

    # A fixed rotation of the three kinds of kill at random moments; a
    # fixed number of them, so what is tested does not depend on how fast
    # the machine is.
    plan = ["worker", "worker", "master", "worker", "all", "worker", "worker", "master"]
    done = collections.Counter()
    for i in range(KILLS):
        time.sleep(rnd.uniform(0.05, 0.35))
        kind = plan[i % len(plan)]
        if kind == "worker":
            kill_workers(d, rnd)
        elif kind == "master":
            kill_master(d)
        else:
            kill_everything(d)
        done[kind] += 1
    # A last stretch without kills, until plenty has completed (the
    # timeout only stops a daemon that no longer delivers).
    def completed():
        with load.lock:
            return sum(1 for v in load.replies.values() if v[0] == 250) >= MIN_OK
    integlib.wait_for(completed, 120, interval=0.1, what="%d deliveries" % MIN_OK)
    load.stop.set()
    for t in threads:
        t.join(30)
        assert not t.is_alive()
    d.kill()   # every process group, orphans of killed masters included

    ok = {k for k, v in load.replies.items() if v[0] == 250}
    assert len(ok) >= MIN_OK, (len(ok), load.errors)
    assert {v[0] for v in load.replies.values()} <= {250}, [
        v for v in load.replies.values() if v[0] != 250][:5]

    # What is on disk: complete copies only, at most one per recipient.
    found = collections.Counter()
    for a in USERS:
        md = d.maildir(a)
        check_maildir_names(md)
        assert integlib.listdir(os.path.join(md, "cur")) == []
        for p in maildir_new(md):
            with open(p, "rb") as f:
                data = f.read()
            trace, rest = split_trace(data)
            assert trace_dict(trace)["Delivered-To"] == a, p
            m = re.search(rb"^Message-ID: <([^@>]+)@crash\.test>$", rest, re.M)
            assert m, (p, rest[:200])
            mid = m.group(1).decode()
            assert rest == load.sent[mid], "partial or corrupt file %s" % p
            found[(mid, a)] += 1
    doubled = [k for k, n in found.items() if n > 1]
    assert doubled == []
    missing = sorted(ok - set(found))
    assert missing == [], "250 but not in new/: %s" % missing[:10]

    # The log accounts for every 250 (the line is written before the reply).
    sent_lines = {(x["qid"], x["to"]) for x in deliveries(d.log()) if x["status"] == "sent"}
    for (mid, a) in ok:
        qid = re.search(r"> ([0-9A-F]+) ", load.replies[(mid, a)][1]).group(1)
        assert (qid, a) in sent_lines, (mid, a, qid)

    # And the daemon still works afterwards.
    d.start()
    t = d.deliver([USERS[0]], integlib.make_message("after the storm"))
    assert t.final_codes() == [250]
    print("kills: %s; 250s: %d; files: %d; client errors: %s" %
          (dict(done), len(ok), sum(found.values()), dict(load.errors)))
