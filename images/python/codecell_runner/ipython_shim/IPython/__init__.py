"""A stand-in for the parts of IPython that notebook code uses (`from IPython.display import
display`), for an image without IPython. The runner puts its directory at the end of sys.path, so
a real IPython, once installed, is found first. There is no IPython shell here: get_ipython()
returns None, as it does outside IPython, which tells libraries that probe for a notebook "no".
`IPython.display` is the submodule, as in IPython: `from IPython import display` gives the module.
"""
version_info = (0, 0, 0, "codecell-shim")
__version__ = "0.0.0+codecell-shim"


def get_ipython():
    return None
