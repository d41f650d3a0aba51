#!/bin/sh
":" //# ; here=$(dirname "$(readlink -f "$0")"); n="$here/../node_modules/node/bin/node"; [ -x "$n" ] || n=node; exec "$n" "$0" "$@"
// The line above is both shell and JavaScript: run as a command, it re-executes this file
// under the Node that `npm ci` pinned (the system Node may be too old for libp2p 3).

const [major, minor] = process.versions.node.split('.').map(Number);
if (major < 22 || (major === 22 && minor < 18)) {
  process.stderr.write(`shoal: Node ${process.versions.node} is too old; Node >= 22.18 is required (run \`npm ci\` to install the pinned runtime)\n`);
  process.exit(1);
}
const { main } = await import('../src/cli/main.ts');
await main(process.argv);
