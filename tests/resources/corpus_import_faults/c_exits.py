"""Ends the process at import, with a clean status."""
import os

os._exit(0)
