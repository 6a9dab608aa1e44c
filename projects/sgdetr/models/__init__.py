from . import detectors, encoders, heads, layers, losses, task_modules  # noqa: F401
