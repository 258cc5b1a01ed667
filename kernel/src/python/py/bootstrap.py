# Installed first: serves the kernel's own `pysheets` package from sources held in the binary.
import importlib.abc
import importlib.util
import sys


class _EmbeddedModules(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    def __init__(self, sources):
        self.sources = sources

    def find_spec(self, name, path=None, target=None):
        if name not in self.sources:
            return None
        return importlib.util.spec_from_loader(
            name, self, origin=f"<{name}>", is_package=(name == "pysheets"))

    def create_module(self, spec):
        return None

    def exec_module(self, module):
        code = compile(self.sources[module.__name__], f"<{module.__name__}>", "exec")
        exec(code, module.__dict__)


sys.meta_path.insert(0, _EmbeddedModules(SOURCES))
