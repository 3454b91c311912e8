#!/usr/bin/env -S node --max-semi-space-size=16
// Entry point for `npx carewire` and the npm scripts. Node 24 strips TypeScript types natively,
// so the CLI runs straight from the sources with no build step.
//
// --max-semi-space-size=16 (also in package.json's start, serve and bench scripts, and in
// bench/lib/carewire.ts): V8 otherwise lets the young generation grow to 128 MB under a server's
// allocation rate, and 10,000 live sockets then took 490-640 MB RSS from run to run; capped at
// 16 MB semi-spaces, 455-471 MB, with the same delivery latency (docs/benchmarks.md, realtime).
import '../src/cli/main.ts';
