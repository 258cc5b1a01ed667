"""``python -m pysheets_kernel -f CONNECTION_FILE``: the kernel, as the kernelspec starts it."""

import sys
import types


def _run():
    from pysheets_kernel import _native

    # Cells run in `__main__`, as in ipykernel, so that pickle finds what they define. That must
    # be a fresh module: this file's own globals are not the user's, and a multiprocessing
    # "spawn" child would re-import this launcher (and start a kernel) from its `__spec__`.
    launcher = sys.modules["__main__"]
    sys.modules["__main__"] = types.ModuleType("__main__")
    try:
        return _native.main(["pysheets", *sys.argv[1:]])
    finally:
        sys.modules["__main__"] = launcher


if __name__ == "__main__":
    sys.exit(_run())
