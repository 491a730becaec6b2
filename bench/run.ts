/**
 * `npm run bench`: runs every benchmark and prints one JSON object with the figures; `npm run bench --
 * vendor` (or protocol, broker, p2p, cli, x402) runs only the sections named. Progress goes to stderr so
 * stdout stays a single JSON document.
 */
import os from 'node:os';
import { runBrokerBench } from '../packages/broker/bench/broker.bench.ts';
import { runCliBench } from '../packages/cli/bench/cli.bench.ts';
import { runVendorBench } from '../packages/gate/bench/vendor.bench.ts';
import { runP2pBench } from '../packages/peer/bench/p2p.bench.ts';
import { runProtocolBench } from '../packages/protocol/bench/protocol.bench.ts';
import { runX402Bench } from '../packages/x402/bench/x402.bench.ts';

const SECTIONS = {
  protocol: async () => runProtocolBench(),
  broker: runBrokerBench,
  vendor: runVendorBench,
  p2p: runP2pBench,
  cli: runCliBench,
  x402: runX402Bench,
} as const;
type Section = keyof typeof SECTIONS;

const asked = process.argv.slice(2);
const unknown = asked.filter((a) => !(a in SECTIONS));
if (unknown.length > 0) {
  process.stderr.write(
    `bench: unknown section ${unknown.join(', ')}; sections: ${Object.keys(SECTIONS).join(', ')}\n`,
  );
  process.exit(2);
}
const sections = (asked.length > 0 ? asked : Object.keys(SECTIONS)) as Section[];

const result: Record<string, unknown> = {
  started: new Date().toISOString(),
  machine: { node: process.version, cpus: os.cpus().length, cpu: os.cpus()[0]?.model ?? 'unknown' },
};
for (const s of sections) {
  process.stderr.write(`bench: ${s} …\n`);
  result[s] = await SECTIONS[s]();
}
process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
