"""CareDesk: front-desk software for small clinics."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("caredesk")
except PackageNotFoundError:  # running from a checkout that was never installed
    __version__ = "0.0.0+unknown"
