"""Every file that git tracks inside the four packages is in the wheel (code and data alike).

Usage: python .ci/check_wheel.py WHEEL  (run from the repository root). Exit 1 with the list
of missing files, so that a new subpackage or data file that packaging misses fails CI.
"""

from __future__ import annotations

import subprocess
import sys
import zipfile

PACKAGES = ("theory", "numerics", "figures", "proofs_check")


def main(wheel: str) -> int:
    tracked = subprocess.run(["git", "ls-files", "--", *PACKAGES], capture_output=True, text=True,
                             check=True).stdout.split()
    shipped = set(zipfile.ZipFile(wheel).namelist())
    missing = sorted(f for f in tracked if f not in shipped)
    if missing:
        print(f"check_wheel: {len(missing)} tracked package files are not in {wheel}:", *missing, sep="\n  ")
        return 1
    print(f"check_wheel: all {len(tracked)} tracked files of {', '.join(PACKAGES)} are in the wheel")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
