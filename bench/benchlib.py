"""benchlib.py - what the python bench scripts share (stdlib only).

install() puts the Debian packages a bench needs in place with apt-get,
the way the bench scripts always did it: only those missing, only when
allowed (the scripts' --no-install refuses instead), non-interactively.
"""
import os
import subprocess
import sys


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
