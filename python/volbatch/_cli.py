"""The `volbatch` command of an installed package: pip's console script runs this, which
replaces itself with the volbatch program shipped in the package (volbatch/bin/volbatch), so the
command line behaves exactly like the C++ program (exit codes, signals, output)."""
import os
import sys


def main():
    from ._jobs import _find_executable
    exe = _find_executable()
    if exe is None or os.path.realpath(exe) == os.path.realpath(sys.argv[0]):
        sys.stderr.write("volbatch: the volbatch program is not installed with this package\n")
        return 1
    os.execv(exe, [exe] + sys.argv[1:])
    return 1  # not reached
