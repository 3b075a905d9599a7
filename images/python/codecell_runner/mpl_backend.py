"""The matplotlib backend of the image (MPLBACKEND=module://codecell_runner.mpl_backend).

Agg rendering; "showing" a figure renders it to PNG for the result frame and closes it. Set by
environment variable, it applies whenever pyplot is imported: at warm-up, later by the user's
code, or in a Python subprocess of it.
"""
from __future__ import annotations

from matplotlib._pylab_helpers import Gcf
from matplotlib.backend_bases import FigureManagerBase
from matplotlib.backends.backend_agg import FigureCanvasAgg

from . import figures


class FigureManager(FigureManagerBase):
    def show(self) -> None:
        """Figure.show(): render this figure and close it, as plt.show() does for all."""
        try:
            figures.render(self.canvas.figure)
        finally:
            Gcf.destroy(self)


class FigureCanvas(FigureCanvasAgg):
    manager_class = FigureManager

    def print_figure(self, filename, *args, **kwargs):
        """savefig(): a PNG saved into /mnt/data is the figure's image (figures.py, one image per figure)."""
        figure = self.figure  # print_figure may swap the canvas for other formats while it runs
        result = super().print_figure(filename, *args, **kwargs)
        figures.note_saved(figure, filename, kwargs.get("format", args[4] if len(args) > 4 else None))
        return result


def show(*args, **kwargs) -> None:
    """plt.show(): arguments such as block= mean nothing without a window."""
    figures.show_open_figures()
