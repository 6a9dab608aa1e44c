from . import (detectors, encoders, heads, layers, losses, postprocess,  # noqa: F401
               task_modules)
