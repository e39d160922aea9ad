"""mebench: an evaluation harness for motion-centric image editing."""

from __future__ import annotations

__version__ = "0.1.0"
