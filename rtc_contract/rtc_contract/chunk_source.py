"""The `source` of an ActionChunk: which publisher run it came from.

Shared by who publishes chunks (the policy node) and who admits them (the executor's chunk
admission, which follows one source and numbers ids per source): a restarted publisher is a new
source whose ids start again from 1.
"""
from __future__ import annotations

import secrets


def run_source(node_name: str) -> str:
    """The `source` of one publisher run: its node name and a random run id."""
    return f"{node_name} {secrets.token_hex(4)}"
