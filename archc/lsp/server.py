"""The pygls wiring of `archc lsp`: LSP requests in, analysis.py's answers out as LSP types.

Every change re-checks the document at once (GoogLeNet takes about 10 ms) and publishes the
compiler's diagnostics: the CLI's messages, codes and spans, with the notes and the hint on the
lines below the message. Positions are converted between the compiler's code-point columns and
the encoding negotiated with the client (UTF-16 unless the client offers another).
"""

from __future__ import annotations

from urllib.parse import unquote, urlparse

from lsprotocol import types
from pygls.lsp.server import LanguageServer
from pygls.workspace import TextDocument
from pygls.workspace.position_codec import ServerTextPosition, ServerTextRange

from .. import __version__
from ..diagnostics import Diagnostic, Span
from .analysis import Analysis, Completion, Pos, Symbol, complete

SYMBOL_KINDS = {
    "network": types.SymbolKind.Class,
    "module": types.SymbolKind.Function,
    "input": types.SymbolKind.Variable,
    "layer": types.SymbolKind.Field,
    "call": types.SymbolKind.Object,
    "repeat": types.SymbolKind.Array,
    "branch": types.SymbolKind.Namespace,
}
COMPLETION_KINDS = {
    "op": types.CompletionItemKind.Function,
    "module": types.CompletionItemKind.Module,
    "keyword": types.CompletionItemKind.Keyword,
    "option": types.CompletionItemKind.Property,
    "flag": types.CompletionItemKind.EnumMember,
    "activation": types.CompletionItemKind.EnumMember,
    "value": types.CompletionItemKind.Value,
    "layer": types.CompletionItemKind.Variable,
    "param": types.CompletionItemKind.TypeParameter,
}


class ArchServer(LanguageServer):
    def __init__(self) -> None:
        super().__init__("archc", __version__)
        self.analyses: dict[str, tuple[int | None, Analysis]] = {}

    def analysis(self, uri: str) -> tuple[TextDocument, Analysis]:
        """The analysis of the document's current version, computed once per version."""
        doc = self.workspace.get_text_document(uri)
        cached = self.analyses.get(uri)
        if cached is None or cached[0] != doc.version or cached[1].text != doc.source:
            cached = (doc.version, Analysis(doc.source, spec_name(uri)))
            self.analyses[uri] = cached
        return doc, cached[1]

    def check(self, uri: str) -> None:
        doc, analysis = self.analysis(uri)
        lines = analysis.text.split("\n")
        diagnostics = [to_lsp_diagnostic(d, doc, lines) for d in analysis.comp.diagnostics]
        self.text_document_publish_diagnostics(types.PublishDiagnosticsParams(uri=uri, diagnostics=diagnostics, version=doc.version))


def spec_name(uri: str) -> str:
    """The file name diagnostics carry: the path of a file: URI, else the URI itself."""
    parsed = urlparse(uri)
    return unquote(parsed.path) if parsed.scheme == "file" else uri


# -- positions ----------------------------------------------------------------------------------------
def to_range(span: Span, doc: TextDocument, lines: list[str]) -> types.Range:
    codec = doc.position_codec
    start = _clamp(lines, span.line, span.column)
    end = max(start, _clamp(lines, span.end_line, span.end_column))
    if all(lines[p.line].isascii() for p in (start, end) if p.line < len(lines)):
        return types.Range(types.Position(start.line, start.character), types.Position(end.line, end.character))
    return codec.range_to_client_units(lines, ServerTextRange(start, end))


def _clamp(lines: list[str], line: int, column: int) -> ServerTextPosition:
    row = min(max(line - 1, 0), max(len(lines) - 1, 0))
    text = lines[row] if lines else ""
    return ServerTextPosition(row, min(max(column - 1, 0), len(text.rstrip("\r"))))


def from_position(position: types.Position, doc: TextDocument) -> Pos:
    server = doc.position_from_client_units(position)
    return server.line + 1, server.character + 1


# -- conversions --------------------------------------------------------------------------------------
def to_lsp_diagnostic(d: Diagnostic, doc: TextDocument, lines: list[str]) -> types.Diagnostic:
    message = "\n".join([d.message, *(f"note: {n}" for n in d.notes), *([f"hint: {d.hint}"] if d.hint else [])])
    return types.Diagnostic(
        range=to_range(d.span, doc, lines),
        message=message,
        severity=types.DiagnosticSeverity.Error if d.is_error else types.DiagnosticSeverity.Warning,
        code=d.code,
        source="archc",
    )


def to_document_symbol(sym: Symbol, doc: TextDocument, lines: list[str]) -> types.DocumentSymbol:
    return types.DocumentSymbol(
        name=sym.name,
        kind=SYMBOL_KINDS[sym.kind],
        range=to_range(sym.span, doc, lines),
        selection_range=to_range(sym.selection, doc, lines),
        detail=sym.detail or None,
        children=[to_document_symbol(c, doc, lines) for c in sym.children],
    )


def to_completion_item(c: Completion, order: int) -> types.CompletionItem:
    return types.CompletionItem(
        label=c.label,
        kind=COMPLETION_KINDS[c.kind],
        detail=c.detail or None,
        documentation=types.MarkupContent(types.MarkupKind.Markdown, c.doc) if c.doc else None,
        insert_text=c.insert,
        sort_text=f"{order:04d}",
    )


# -- features -----------------------------------------------------------------------------------------
def make_server() -> ArchServer:
    server = ArchServer()

    @server.feature(types.TEXT_DOCUMENT_DID_OPEN)
    def did_open(ls: ArchServer, params: types.DidOpenTextDocumentParams) -> None:
        ls.check(params.text_document.uri)

    @server.feature(types.TEXT_DOCUMENT_DID_CHANGE)
    def did_change(ls: ArchServer, params: types.DidChangeTextDocumentParams) -> None:
        ls.check(params.text_document.uri)

    @server.feature(types.TEXT_DOCUMENT_DID_CLOSE)
    def did_close(ls: ArchServer, params: types.DidCloseTextDocumentParams) -> None:
        uri = params.text_document.uri
        ls.analyses.pop(uri, None)
        ls.text_document_publish_diagnostics(types.PublishDiagnosticsParams(uri=uri, diagnostics=[]))

    @server.feature(types.TEXT_DOCUMENT_HOVER)
    def hover(ls: ArchServer, params: types.HoverParams) -> types.Hover | None:
        doc, analysis = ls.analysis(params.text_document.uri)
        found = analysis.hover(from_position(params.position, doc))
        if found is None:
            return None
        text, span = found
        return types.Hover(types.MarkupContent(types.MarkupKind.Markdown, text), to_range(span, doc, analysis.text.split("\n")))

    @server.feature(types.TEXT_DOCUMENT_DEFINITION)
    def definition(ls: ArchServer, params: types.DefinitionParams) -> types.Location | None:
        doc, analysis = ls.analysis(params.text_document.uri)
        target = analysis.definition(from_position(params.position, doc))
        if target is None:
            return None
        return types.Location(params.text_document.uri, to_range(target, doc, analysis.text.split("\n")))

    @server.feature(types.TEXT_DOCUMENT_COMPLETION, types.CompletionOptions(trigger_characters=["=", ",", " "]))
    def completion(ls: ArchServer, params: types.CompletionParams) -> types.CompletionList:
        doc = ls.workspace.get_text_document(params.text_document.uri)
        found = complete(doc.source, from_position(params.position, doc))
        return types.CompletionList(is_incomplete=False, items=[to_completion_item(c, k) for k, c in enumerate(found)])

    @server.feature(types.TEXT_DOCUMENT_DOCUMENT_SYMBOL)
    def symbols(ls: ArchServer, params: types.DocumentSymbolParams) -> list[types.DocumentSymbol]:
        doc, analysis = ls.analysis(params.text_document.uri)
        lines = analysis.text.split("\n")
        return [to_document_symbol(s, doc, lines) for s in analysis.symbols]

    @server.feature(types.TEXT_DOCUMENT_FORMATTING)
    def formatting(ls: ArchServer, params: types.DocumentFormattingParams) -> list[types.TextEdit] | None:
        doc, analysis = ls.analysis(params.text_document.uri)
        text = analysis.formatted()
        if text is None:
            return None  # the spec has errors: like `archc fmt`, change nothing
        if text == doc.source:
            return []
        lines = doc.source.split("\n")
        end = types.Position(len(lines) - 1, doc.position_codec.client_num_units(lines[-1]))
        return [types.TextEdit(types.Range(types.Position(0, 0), end), text)]

    return server
