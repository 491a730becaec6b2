/**
 * `npm run bench`: runs every benchmark in one process and prints one JSON object with the figures.
 * Progress goes to stderr so stdout stays a single JSON document.
 */
import os from 'node:os';
import { runBrokerBench } from '../packages/broker/bench/broker.bench.ts';
import { runVendorBench } from '../packages/gate/bench/vendor.bench.ts';
import { runProtocolBench } from '../packages/protocol/bench/protocol.bench.ts';

const started = new Date().toISOString();
process.stderr.write('bench: protocol …\n');
const protocol = runProtocolBench();
process.stderr.write('bench: broker …\n');
const broker = await runBrokerBench();
process.stderr.write('bench: vendor …\n');
const vendor = await runVendorBench();

const result = {
  started,
  machine: { node: process.version, cpus: os.cpus().length, cpu: os.cpus()[0]?.model ?? 'unknown' },
  protocol,
  broker,
  vendor,
};
process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
