"""fileflow: a file-target build system for data pipelines."""
__version__ = "0.1.0"
__all__ = ["__version__"]
