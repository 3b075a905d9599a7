"""IPython.core, only for IPython.core.display (older code imports display from there)."""
