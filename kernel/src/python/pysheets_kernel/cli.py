"""The ``pysheets`` command: ``pysheets install``, ``pysheets replay``, ``pysheets --version``."""

import sys


def main():
    from pysheets_kernel import _native

    sys.exit(_native.main(["pysheets", *sys.argv[1:]]))
