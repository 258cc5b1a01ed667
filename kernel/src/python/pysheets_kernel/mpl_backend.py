"""A matplotlib backend of the kernel's own: figures become PNG display data after each cell.

matplotlib_inline imports IPython; this backend needs nothing but matplotlib's Agg canvas.
"""

from matplotlib.backend_bases import FigureManagerBase
from matplotlib.backends.backend_agg import FigureCanvasAgg

FigureCanvas = FigureCanvasAgg
FigureManager = FigureManagerBase


def show(*args, **kwargs):
    from matplotlib._pylab_helpers import Gcf

    from pysheets_kernel.display import display

    try:
        for manager in Gcf.get_all_fig_managers():
            display(manager.canvas.figure)
    finally:
        Gcf.destroy_all()
