"""The runner of the Python execution image: speaks images/PROTOCOL.md with the host.

Modules:
  main       life of a runner: warm up, read the job, run it, answer
  frames     frames on stdout and the job line on stdin
  cell       compiling and running the user's code like a notebook cell
  errors     tracebacks of user errors, without the runner's own frames
  snapshot   carrying the user's globals from one container to the next
  figures    matplotlib figures rendered to PNG in the artifacts directory
  mpl_backend  the matplotlib backend (MPLBACKEND) whose show() renders figures
  resources  limits of the container that libraries should respect
  notebook   notebook habits, installed at warm-up: display(), magics, IPython.display, PIL's show()
  display    display() and the IPython.display objects (ipython_shim/ makes them importable)
  magics     % and ! lines rewritten into calls of the stand-in shell before compiling
  shell      the stand-in shell: line and cell magics, shell escapes
  timing     %time and %timeit
  packages   pip and conda answered plainly; the hint after a missing package
"""
