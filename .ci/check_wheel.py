"""The wheel ships exactly the files that git tracks inside the four packages (code and data alike).

Usage: python .ci/check_wheel.py WHEEL  (run from the repository root). Exit 1 with the list of
tracked package files missing from the wheel (a new subpackage or data file that packaging
misses) and of packaged files that git does not track (a stale module left in ``build/lib`` by
an earlier build, a scratch file in a package folder): a wheel built from a clean checkout has
neither.
"""

from __future__ import annotations

import subprocess
import sys
import zipfile

PACKAGES = ("theory", "numerics", "figures", "proofs_check")


def main(wheel: str) -> int:
    tracked = set(subprocess.run(["git", "ls-files", "--", *PACKAGES], capture_output=True, text=True,
                                 check=True).stdout.split())
    shipped = {f for f in zipfile.ZipFile(wheel).namelist() if f.split("/", 1)[0] in PACKAGES}
    missing = sorted(tracked - shipped)
    untracked = sorted(shipped - tracked)
    if missing:
        print(f"check_wheel: {len(missing)} tracked package files are not in {wheel}:", *missing, sep="\n  ")
    if untracked:
        print(f"check_wheel: {len(untracked)} files in {wheel} are not tracked by git (stale build or scratch "
              "files; build from a clean checkout):", *untracked, sep="\n  ")
    if missing or untracked:
        return 1
    print(f"check_wheel: the wheel holds exactly the {len(tracked)} tracked files of {', '.join(PACKAGES)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
