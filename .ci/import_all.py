"""Import every module of the four packages from the installed wheel (run outside the repository).

Fails if a module cannot be imported or is imported from anywhere but the installed
site-packages (a stray source checkout on the path would hide a packaging fault).
"""

from __future__ import annotations

import importlib
import pkgutil
import sys
import sysconfig
from pathlib import Path

PACKAGES = ("theory", "numerics", "figures", "proofs_check")


def main() -> int:
    site = Path(sysconfig.get_paths()["purelib"]).resolve()
    names: list[str] = []
    for pkg in PACKAGES:
        mod = importlib.import_module(pkg)
        names.append(pkg)
        names += [m.name for m in pkgutil.walk_packages(mod.__path__, prefix=f"{pkg}.")]
    bad = []
    for name in names:
        mod = importlib.import_module(name)
        where = Path(mod.__file__ or next(iter(mod.__path__))).resolve()
        if site not in where.parents:
            bad.append(f"{name} from {where}")
    if bad:
        print("import_all: not from the installed wheel:", *bad, sep="\n  ")
        return 1
    print(f"import_all: imported {len(names)} modules from {site}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
