"""IPython.display for this image: display() and the display objects, shown the runner's way."""
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
