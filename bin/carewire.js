#!/usr/bin/env node
// Entry point for `npx carewire` and the npm scripts. Node 24 strips TypeScript types natively,
// so the CLI runs straight from the sources with no build step.
import '../src/cli/main.ts';
