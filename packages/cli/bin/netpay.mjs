#!/usr/bin/env node
// The `netpay` command: the compiled CLI (dist/main.js, made by `npm run build`), reached through this
// package's own exports so that `node --conditions=@netpay/source --import tsx` runs the TypeScript sources
// instead (as the tests do).
import '@netpay/cli/main';
