#!/bin/sh
":" //# ; here=$(dirname "$(readlink -f "$0")"); n="$here/../node_modules/node/bin/node"; [ -x "$n" ] || n=node; case "$1" in agent) MALLOC_ARENA_MAX=${MALLOC_ARENA_MAX:-1} exec "$n" --max-semi-space-size=2 "$0" "$@";; esac; exec "$n" "$0" "$@"
// The line above is both shell and JavaScript: run as a command, it re-executes this file
// under the Node that `npm ci` pinned (the system Node may be too old for libp2p 3). The
// agent gets a small young generation: its allocation rate is low, and V8's default
// semi-space alone would cost a fifth of the 150 MB RSS budget. It also gets one malloc
// arena unless the operator set MALLOC_ARENA_MAX: glibc's per-thread arenas (libuv, V8 and
// leveldb threads) held 16 MB of an idle agent's RSS (162 → 146 MB), and the agent's
// JavaScript heap is not malloc'ed, so the threads hardly contend for it.

const [major, minor] = process.versions.node.split('.').map(Number);
if (major < 22 || (major === 22 && minor < 18)) {
  process.stderr.write(`shoal: Node ${process.versions.node} is too old; Node >= 22.18 is required (run \`npm ci\` to install the pinned runtime)\n`);
  process.exit(1);
}
// Node strips TypeScript's types with a WebAssembly compiler that stays in memory: ~13 MB of
// an idle agent's RSS. With the compile cache (NODE_COMPILE_CACHE, else the temp directory; keyed
// by each file's content) a later start, and every CLI command, loads stripped code instead
// and never loads the compiler. Node writes it at exit, and the agent once it has started; a
// cache that cannot be written only costs the next start its speed.
const { enableCompileCache } = await import('node:module');
enableCompileCache();
const { main } = await import('../src/cli/main.ts');
await main(process.argv);
