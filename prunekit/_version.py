"""The package version, importable from any room without importing the package's public API."""

__version__ = "0.1.0"
