// The archc extension: the TextMate grammar comes from package.json; this starts `archc lsp`
// (the command is the setting archc.server.command) and connects it to .arch documents.
"use strict";
const vscode = require("vscode");

let client;

function activate(context) {
  const command = vscode.workspace.getConfiguration("archc").get("server.command", ["archc", "lsp"]);
  if (!Array.isArray(command) || command.length === 0) {
    return; // highlighting only
  }
  const { LanguageClient } = require("vscode-languageclient/node");
  const server = { command: command[0], args: command.slice(1) };
  client = new LanguageClient("archc", "archc language server", server, {
    documentSelector: [{ scheme: "file", language: "arch" }, { scheme: "untitled", language: "arch" }],
  });
  context.subscriptions.push(client);
  client.start();
}

function deactivate() {
  return client ? client.stop() : undefined;
}

module.exports = { activate, deactivate };
