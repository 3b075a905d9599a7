"""IPython.core.display, the older home of the display API: the same as IPython.display."""
from IPython.display import *  # noqa: F401,F403
