// `npm run build`, after `tsc -b tsconfig.build.json`: copies what the compiled code loads at run time
// beside it (SQL migrations, the PGlite worker, a page's HTML, CSS and JS: every file of a package's src/
// that is not TypeScript and not a test), from packages/<p>/src to packages/<p>/dist, and the root LICENSE
// into each package (npm packs it from there). Plain JavaScript: it runs at `npm install` (prepare).
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const isAsset = (name) => !name.endsWith('.ts') && !/\.test\.[cm]?js$/.test(name);

function* files(dir) {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, e.name);
    if (e.isDirectory()) yield* files(path);
    else if (e.isFile()) yield path;
  }
}

let copied = 0;
for (const name of readdirSync(join(root, 'packages'))) {
  const pkg = join(root, 'packages', name);
  const tsconfig = join(pkg, 'tsconfig.build.json');
  if (!existsSync(tsconfig)) continue;
  copyFileSync(join(root, 'LICENSE'), join(pkg, 'LICENSE'));
  // Only packages compiled from src/ to dist/ (the web package compiles its server files only; Vite builds
  // its pages from their sources when it starts).
  const { rootDir, outDir } = JSON.parse(readFileSync(tsconfig, 'utf8')).compilerOptions ?? {};
  if (rootDir !== 'src' || outDir !== 'dist') continue;
  const src = join(pkg, 'src');
  for (const file of files(src)) {
    if (!isAsset(file)) continue;
    const to = join(pkg, 'dist', relative(src, file));
    mkdirSync(dirname(to), { recursive: true });
    copyFileSync(file, to);
    copied++;
  }
}
process.stderr.write(`build: ${copied} asset files copied into dist/\n`);
