"""PySheets grid view for JupyterLab and Notebook 7 (a prebuilt labextension)."""

try:
    from ._version import __version__
except ImportError:  # a source checkout that was never pip-installed
    __version__ = "dev"


def _jupyter_labextension_paths():
    return [{"src": "labextension", "dest": "jupyterlab-pysheets"}]
