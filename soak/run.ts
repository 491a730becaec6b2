/**
 * `npm run soak`: the long versions of the proof-under-fire tests (issue 18), one JSON document on stdout.
 * Every file `soak/<section>.ts` (other than this one) is a section: it exports
 * `run(): Promise<Record<string, unknown>>` and reads its own settings from the environment (each says which).
 * `npm run soak -- crash faults` runs only the sections named. Progress goes to stderr.
 */
import { readdirSync } from 'node:fs';
import os from 'node:os';
import { dirname } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

interface Section {
  run(): Promise<Record<string, unknown>>;
}

const here = dirname(fileURLToPath(import.meta.url));
const all = readdirSync(here)
  .filter((f) => f.endsWith('.ts') && f !== 'run.ts' && !f.endsWith('.test.ts'))
  .map((f) => f.slice(0, -3))
  .sort();
const asked = process.argv.slice(2);
const unknown = asked.filter((a) => !all.includes(a));
if (unknown.length > 0) {
  process.stderr.write(`soak: unknown section ${unknown.join(', ')}; sections: ${all.join(', ')}\n`);
  process.exit(2);
}
const result: Record<string, unknown> = {
  started: new Date().toISOString(),
  machine: { node: process.version, cpus: os.cpus().length },
};
for (const name of asked.length > 0 ? asked : all) {
  process.stderr.write(`soak: ${name} …\n`);
  const section = (await import(pathToFileURL(`${here}/${name}.ts`).href)) as Section;
  result[name] = await section.run();
}
process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
