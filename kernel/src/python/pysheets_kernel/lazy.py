"""`LazyModule`: a module stand-in that imports the module when first used."""



class LazyModule:
    """A module imported on first attribute access: `json` and `re` (with `enum` behind them)
    were half of the kernel's start-up, and the first cell can pay for them instead."""

    def __init__(self, name):
        self._name = name

    def __getattr__(self, attr):
        import importlib

        return getattr(importlib.import_module(self._name), attr)

    def __repr__(self):
        return f"<module {self._name!r}, imported when used>"

