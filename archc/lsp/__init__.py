"""`archc lsp`: a language server for .arch files over stdio.

analysis.py answers the editor's questions from a compilation (pure Python, no LSP types);
server.py is the pygls wiring. pygls is an optional dependency (`pip install 'archc[lsp]'`),
imported only when the server starts, so `import archc` never needs it.
"""

from __future__ import annotations


def serve() -> None:
    """Run the server on standard input and output until the client says exit."""
    from ..env import MissingDependency

    try:
        from .server import make_server
    except ImportError as exc:
        raise MissingDependency(f"the language server needs pygls ({exc}); install it with: pip install 'archc[lsp]'") from None

    make_server().start_io()
