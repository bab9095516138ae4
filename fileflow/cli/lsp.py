"""`fileflow lsp`: the language server, over stdio, with pygls. Layer 5.

Only the wiring lives here: the handlers, and the translation between the protocol's
positions (0-based, in the client's code units, UTF-16 by default) and the 1-based
code-point lines and columns of the editor package, which does the work on the document's
unsaved text. pygls is imported only when the command runs.
"""
from __future__ import annotations

import asyncio
import logging
import os
from typing import TYPE_CHECKING

from fileflow.editor.analysis import Analysis, Span, analyze, lint_findings
from fileflow.editor.completion import completion
from fileflow.editor.definition import definition
from fileflow.editor.diagnostics import diagnostics
from fileflow.editor.formatting import format_document
from fileflow.editor.hover import hover
from fileflow.editor.symbols import Symbol, symbols

if TYPE_CHECKING:
    from pygls.workspace import TextDocument

__all__ = ["serve"]

# How long the server waits after a change for the next one before it checks the text again:
# typing a word checks it once, not once per key.
SETTLE_SECONDS = 0.15


def serve() -> int:
    """Run the server on stdin/stdout until the client says exit."""
    try:
        import pygls  # noqa: F401
    except ImportError:
        from fileflow.errors import FileflowError
        raise FileflowError("fileflow lsp needs pygls: pip install 'pygls>=2'") from None
    logging.basicConfig(level=logging.WARNING)  # pygls logs to stderr, never to stdout
    server = _make_server()
    server.start_io()
    return 0


def _make_server():
    from pygls.lsp.server import LanguageServer

    from fileflow import __version__

    server = LanguageServer("fileflow", __version__)
    documents = OpenDocuments(server)
    register_document_sync(server, documents)
    register_navigation(server, documents)
    register_editing(server, documents)
    return server


# ---------------------------------------------------------------- positions

def path_of(uri: str) -> str:
    from pygls.uris import to_fs_path

    path = to_fs_path(uri) if uri.startswith("file:") else None
    return os.path.abspath(path or "Flowfile")


def codec_lines(text: str) -> list[str]:
    return text.split("\n")


def to_range(doc_text: str, span: Span, codec):
    """A span of the text as the protocol's range, in the client's code units."""
    from pygls.workspace.position_codec import ServerTextPosition, ServerTextRange

    lines = codec_lines(doc_text)
    start = ServerTextPosition(span.line - 1, span.column - 1)
    end = ServerTextPosition(span.end_line - 1, span.end_column - 1)
    return codec.range_to_client_units(lines, ServerTextRange(start, end))


def from_position(doc, position) -> tuple[int, int]:
    """The 1-based (line, column) in code points of a protocol position in a document."""
    from lsprotocol import types as t

    lines = codec_lines(doc.source)
    if position.line >= len(lines):
        return len(lines), 1
    at = doc.position_codec.position_from_client_units(
        lines, t.Position(position.line, position.character))
    return at.line + 1, at.character + 1


# ---------------------------------------------------------------- the open documents

class OpenDocuments:
    """The analysis of each open document's current text, and the version each was last
    changed to; diagnostics are published from here."""

    def __init__(self, server) -> None:
        self.server = server
        self.analyses: dict[str, tuple[str, Analysis]] = {}   # uri -> (text, analysis)
        self.latest: dict[str, int] = {}                      # uri -> version last changed to

    def analysis(self, uri: str) -> tuple[Analysis, TextDocument]:
        """The analysis of the document's current text (lint findings are added by publish)."""
        workspace = self.server.workspace
        doc = workspace.get_text_document(uri)
        text = doc.source
        cached = self.analyses.get(uri)
        if cached is None or cached[0] != text:
            others = {os.path.realpath(path_of(u)): d.source
                      for u, d in workspace.text_documents.items() if u != uri}
            cached = (text, analyze(path_of(uri), text, lint=False, open_texts=others))
            self.analyses[uri] = cached
        return cached[1], doc

    async def publish(self, uri: str) -> None:
        """Check the document and send its diagnostics. Lint runs in a worker thread (it can
        take seconds on a large workflow), so hover and completion answer meanwhile; if the
        text changed by then, the newer change publishes instead."""
        from lsprotocol import types as t

        server = self.server
        try:
            result, doc = self.analysis(uri)
            if not result.linted:
                findings = await asyncio.get_running_loop().run_in_executor(
                    None, lint_findings, result)
                if server.workspace.get_text_document(uri).source != result.text:
                    return
                result.findings, result.linted = findings, True
            found = diagnostics(result)
        except Exception as exc:  # a server bug must not end the editing session
            server.window_log_message(t.LogMessageParams(
                t.MessageType.Error, f"fileflow lsp: checking {uri} failed: {exc!r}"))
            return
        severity = {"error": t.DiagnosticSeverity.Error, "warning": t.DiagnosticSeverity.Warning}
        server.text_document_publish_diagnostics(t.PublishDiagnosticsParams(
            uri=uri, version=doc.version,
            diagnostics=[t.Diagnostic(range=to_range(result.text, d.span, doc.position_codec),
                                      message=d.message, severity=severity[d.severity],
                                      code=d.code, source="fileflow")
                         for d in found]))


# ---------------------------------------------------------------- the handlers

def register_document_sync(server, documents: OpenDocuments) -> None:
    """Open, change, save and close: each check publishes the document's diagnostics."""
    from lsprotocol import types as t

    @server.feature(t.TEXT_DOCUMENT_DID_OPEN)
    async def did_open(ls, params: t.DidOpenTextDocumentParams) -> None:
        await documents.publish(params.text_document.uri)

    @server.feature(t.TEXT_DOCUMENT_DID_CHANGE)
    async def did_change(ls, params: t.DidChangeTextDocumentParams) -> None:
        uri, version = params.text_document.uri, params.text_document.version
        documents.latest[uri] = version
        await asyncio.sleep(SETTLE_SECONDS)
        if documents.latest.get(uri) == version:  # no newer change came in meanwhile
            await documents.publish(uri)

    @server.feature(t.TEXT_DOCUMENT_DID_SAVE)
    async def did_save(ls, params: t.DidSaveTextDocumentParams) -> None:
        documents.analyses.clear()  # this file may be included by, or include, the other open ones
        await documents.publish(params.text_document.uri)

    @server.feature(t.TEXT_DOCUMENT_DID_CLOSE)
    def did_close(ls, params: t.DidCloseTextDocumentParams) -> None:
        uri = params.text_document.uri
        documents.analyses.pop(uri, None)
        documents.latest.pop(uri, None)
        server.text_document_publish_diagnostics(t.PublishDiagnosticsParams(uri=uri, diagnostics=[]))


def register_navigation(server, documents: OpenDocuments) -> None:
    """The outline, hover and go to definition."""
    from lsprotocol import types as t
    from pygls.uris import from_fs_path

    @server.feature(t.TEXT_DOCUMENT_DOCUMENT_SYMBOL)
    def on_document_symbol(ls, params: t.DocumentSymbolParams) -> list[t.DocumentSymbol]:
        result, doc = documents.analysis(params.text_document.uri)
        kinds = {"rule": t.SymbolKind.Function, "directive": t.SymbolKind.Property,
                 "variable": t.SymbolKind.Variable, "function": t.SymbolKind.Function}

        def convert(symbol: Symbol) -> t.DocumentSymbol:
            return t.DocumentSymbol(
                name=symbol.name, kind=kinds[symbol.kind], detail=symbol.detail or None,
                range=to_range(result.text, symbol.span, doc.position_codec),
                selection_range=to_range(result.text, symbol.name_span, doc.position_codec),
                children=[convert(c) for c in symbol.children] or None)

        return [convert(symbol) for symbol in symbols(result)]

    @server.feature(t.TEXT_DOCUMENT_HOVER)
    def on_hover(ls, params: t.HoverParams) -> t.Hover | None:
        result, doc = documents.analysis(params.text_document.uri)
        found = hover(result, *from_position(doc, params.position))
        if found is None:
            return None
        return t.Hover(contents=t.MarkupContent(kind=t.MarkupKind.Markdown, value=found.markdown),
                       range=to_range(result.text, found.span, doc.position_codec))

    @server.feature(t.TEXT_DOCUMENT_DEFINITION)
    def on_definition(ls, params: t.DefinitionParams) -> list[t.Location]:
        result, doc = documents.analysis(params.text_document.uri)
        out = []
        for place in definition(result, *from_position(doc, params.position)):
            if os.path.realpath(place.path) == os.path.realpath(result.path):
                text = result.text
            else:
                try:
                    with open(place.path, encoding="utf-8-sig") as fh:
                        text = fh.read()
                except (OSError, UnicodeDecodeError):
                    text = ""
            out.append(t.Location(uri=from_fs_path(place.path) or place.path,
                                  range=to_range(text, place.span, doc.position_codec)))
        return out


def register_editing(server, documents: OpenDocuments) -> None:
    """Completion and formatting."""
    from lsprotocol import types as t

    @server.feature(t.TEXT_DOCUMENT_COMPLETION,
                    t.CompletionOptions(trigger_characters=[".", "[", '"', "'", " ", "{"]))
    def on_completion(ls, params: t.CompletionParams) -> t.CompletionList:
        result, doc = documents.analysis(params.text_document.uri)
        kinds = {"directive": t.CompletionItemKind.Keyword, "keyword": t.CompletionItemKind.Keyword,
                 "rule": t.CompletionItemKind.Function, "config": t.CompletionItemKind.Property,
                 "variable": t.CompletionItemKind.Variable, "builtin": t.CompletionItemKind.Function,
                 "field": t.CompletionItemKind.Field}
        items = [t.CompletionItem(label=c.label, kind=kinds[c.kind], detail=c.detail or None,
                                  insert_text=c.insert_text)
                 for c in completion(result, *from_position(doc, params.position))]
        return t.CompletionList(is_incomplete=False, items=items)

    @server.feature(t.TEXT_DOCUMENT_FORMATTING)
    def on_formatting(ls, params: t.DocumentFormattingParams) -> list[t.TextEdit] | None:
        doc = server.workspace.get_text_document(params.text_document.uri)
        text = doc.source
        formatted = format_document(text, path_of(params.text_document.uri))
        if formatted is None or formatted == text:
            return None if formatted is None else []
        lines = codec_lines(text)
        end = doc.position_codec.position_to_client_units(
            lines, t.Position(len(lines) - 1, len(lines[-1])))
        return [t.TextEdit(range=t.Range(t.Position(0, 0), end), new_text=formatted)]
