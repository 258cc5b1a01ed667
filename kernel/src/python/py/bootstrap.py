# Installed first: serves the runtime's modules (`pysheets_kernel.<name>`) from sources held in
# the extension module, beside the package's files on disk (__init__, __main__, cli, _native).
# importlib.abc is not imported: it pulls in importlib.resources and costs ~30 ms of start-up.
import sys
from importlib.machinery import ModuleSpec


class _EmbeddedModules:
    def __init__(self, sources):
        self.sources = sources

    def find_spec(self, name, path=None, target=None):
        if name not in self.sources:
            return None
        return ModuleSpec(name, self, origin=f"<{name}>")

    def create_module(self, spec):
        return None

    def exec_module(self, module):
        code = compile(self.sources[module.__name__], f"<{module.__name__}>", "exec")
        exec(code, module.__dict__)


sys.meta_path.insert(0, _EmbeddedModules(SOURCES))
