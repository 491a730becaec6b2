#!/usr/bin/env node
// The `netpay` command runs from its TypeScript source: tsx's loader compiles it on the fly (no build step).
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { register } from 'tsx/esm/api';

const tsconfig = fileURLToPath(new URL('../../../tsconfig.json', import.meta.url));
register({ tsconfig: existsSync(tsconfig) ? tsconfig : false });
await import('../src/main.ts');
