/**
 * Builds the web apps with Vite into `outDir` (static files: index.html and hashed assets). The browser
 * build of the protocol (noble crypto) is picked by the `browser` condition.
 */
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'vite';

/** The folder with the pages: this file's own, or its parent when this is the build (dist/build.js). */
const here = new URL('.', import.meta.url);
export const WEB_ROOT = fileURLToPath(here.pathname.endsWith('/dist/') ? new URL('..', here) : here);

export async function buildWeb(outDir: string): Promise<void> {
  await build({
    root: WEB_ROOT,
    base: './',
    logLevel: 'warn',
    configFile: false,
    // The NetPay packages' TypeScript sources (`@netpay/source`, shipped in each package beside its dist/).
    resolve: { conditions: ['@netpay/source', 'browser', 'module', 'import', 'default'] },
    build: {
      outDir,
      emptyOutDir: true,
      target: 'es2022',
      reportCompressedSize: false,
      // The wallet (index.html), the vendor dashboard, the broker operator's page and the wallet frame.
      rollupOptions: {
        input: {
          index: join(WEB_ROOT, 'index.html'),
          dashboard: join(WEB_ROOT, 'dashboard.html'),
          admin: join(WEB_ROOT, 'admin.html'),
          // The wallet frame shops embed (through public/netpay.js, copied as it is).
          pay: join(WEB_ROOT, 'pay.html'),
        },
      },
    },
  });
}
