// `npm run build`, last step: the web apps (wallet, wallet frame, dashboard, operator page) built once with
// Vite into packages/web/dist/app, which @netpay/web ships, so serving them (startWeb, `netpay demo`)
// needs no build tool at run time. Plain JavaScript: it runs at `npm install` (prepare).
import { fileURLToPath } from 'node:url';
import { buildWeb } from '../packages/web/dist/build.js';

const out = fileURLToPath(new URL('../packages/web/dist/app/', import.meta.url));
await buildWeb(out);
process.stderr.write(`build: web apps built into ${out}\n`);
