"""maint: preventive IT maintenance as code."""

__version__ = "0.1.0"
