"""IPython.core.display, the older home of the display API: the same as IPython.display."""
from codecell_runner.display import (  # noqa: F401
    HTML,
    JSON,
    SVG,
    Code,
    DisplayHandle,
    FileLink,
    Image,
    Latex,
    Markdown,
    Math,
    clear_output,
    display,
    update_display,
)
