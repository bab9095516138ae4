// Tokenize files with a TextMate grammar through the real vscode-textmate engine (the one
// VS Code uses) and Oniguruma compiled to WebAssembly, and print the tokens as JSON:
//   {"path": [[{"text": "rule", "scopes": ["source.flowfile", ...]}, ...], ...], ...}
// one list of tokens per line. Usage: node tokenize.js GRAMMAR.json FILE...
// The packages are found through NODE_PATH (tests/test_editor_syntax.py sets it).
'use strict';
const fs = require('fs');
const path = require('path');
const vsctm = require('vscode-textmate');
const oniguruma = require('vscode-oniguruma');

async function main() {
  const [grammarPath, ...files] = process.argv.slice(2);
  const wasm = fs.readFileSync(require.resolve('vscode-oniguruma/release/onig.wasm')).buffer;
  await oniguruma.loadWASM(wasm);
  const registry = new vsctm.Registry({
    onigLib: Promise.resolve({
      createOnigScanner: (patterns) => new oniguruma.OnigScanner(patterns),
      createOnigString: (text) => new oniguruma.OnigString(text),
    }),
    loadGrammar: async () =>
      vsctm.parseRawGrammar(fs.readFileSync(grammarPath, 'utf8'), path.resolve(grammarPath)),
  });
  const grammar = await registry.loadGrammar('source.flowfile');
  if (!grammar) throw new Error(`no grammar for source.flowfile in ${grammarPath}`);
  const out = {};
  for (const file of files) {
    const lines = fs.readFileSync(file, 'utf8').split(/\r?\n/);
    let state = vsctm.INITIAL;
    out[file] = lines.map((line, i) => {
      const result = grammar.tokenizeLine(line, state);
      if (result.stoppedEarly) throw new Error(`${file}:${i + 1}: tokenizing stopped early`);
      state = result.ruleStack;
      return result.tokens.map((t) => ({
        text: line.slice(t.startIndex, t.endIndex),
        scopes: t.scopes,
      }));
    });
  }
  process.stdout.write(JSON.stringify(out));
}

main().catch((error) => {
  process.stderr.write(`tokenize.js: ${error.stack || error}\n`);
  process.exit(1);
});
