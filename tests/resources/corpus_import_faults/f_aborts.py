"""Aborts the process at import (SIGABRT)."""
import os

os.abort()
