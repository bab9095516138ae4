// Starts `fileflow lsp` (a language server over stdio) for Flowfiles. The grammar and the
// language configuration work without this file; it only adds the server, and needs
// `npm install` in this folder first (for vscode-languageclient). See docs/editing.md.
'use strict';
const vscode = require('vscode');

let client;

async function activate(context) {
  const settings = vscode.workspace.getConfiguration('flowfile.server');
  if (!settings.get('enabled', true)) return;
  let LanguageClient;
  try {
    ({ LanguageClient } = require('vscode-languageclient/node'));
  } catch (error) {
    vscode.window.showWarningMessage(
      'Flowfile: highlighting only. For diagnostics from `fileflow lsp`, run `npm install` in ' +
      `${context.extensionPath} and reload the window.`);
    return;
  }
  const [command, ...args] = settings.get('command', ['fileflow', 'lsp']);
  client = new LanguageClient(
    'flowfile', 'fileflow lsp',
    { command, args },  // stdio is the default transport
    { documentSelector: [{ language: 'flowfile' }] });
  await client.start();
  context.subscriptions.push(client);
}

function deactivate() {
  return client ? client.stop() : undefined;
}

module.exports = { activate, deactivate };
