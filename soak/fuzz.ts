/**
 * Hostile input, long run (issue 18 §3): packages/api/test/hostile.test.ts with every field mutation, every
 * credential variant and many more random combinations per operation, over several rounds, each round a
 * fresh bank, broker, vendor server and web server (services.ts starts them without vitest). Settings:
 * NETPAY_FUZZ_SEED (default: random, printed, so a run can be replayed), NETPAY_FUZZ_ROUNDS (default 3;
 * round r uses seed + r), NETPAY_FUZZ_RANDOM (random combinations per operation and round, default 200).
 * Reports `{seed, rounds, requests, fiveXx, byService, findings, problems, logged}`: findings counts every
 * problem; `problems` lists the first 50 and `logged` the services' first 20 logged errors.
 */
import { type Finding, runFuzz } from '../packages/api/test/hostile/run.ts';
import { type LoggedError, startServices } from '../packages/api/test/hostile/services.ts';

export async function run(): Promise<Record<string, unknown>> {
  const seed = Number(process.env.NETPAY_FUZZ_SEED ?? Math.floor(Math.random() * 2 ** 31));
  const rounds = Number(process.env.NETPAY_FUZZ_ROUNDS ?? 3);
  const randomPerOp = Number(process.env.NETPAY_FUZZ_RANDOM ?? 200);
  process.stderr.write(`fuzz: seed ${seed} (NETPAY_FUZZ_SEED=${seed} replays it), ${rounds} rounds\n`);
  const byService: Record<string, { requests: number; fiveXx: number }> = {};
  const problems: Finding[] = [];
  const logged: LoggedError[] = [];
  let requests = 0;
  let fiveXx = 0;
  for (let round = 0; round < rounds; round++) {
    const services = await startServices();
    try {
      const r = await runFuzz(services, {
        seed: seed + round,
        fieldsPerOp: Number.POSITIVE_INFINITY,
        headersPerOp: Number.POSITIVE_INFINITY,
        randomPerOp,
        allVariants: true,
        concurrency: 8,
      });
      requests += r.requests;
      fiveXx += r.fiveXx;
      for (const [name, s] of Object.entries(r.byService)) {
        const total = byService[name] ?? { requests: 0, fiveXx: 0 };
        total.requests += s.requests;
        total.fiveXx += s.fiveXx;
        byService[name] = total;
      }
      problems.push(...r.findings);
      logged.push(...services.logged);
      process.stderr.write(
        `fuzz: round ${round + 1}/${rounds}: ${r.requests} requests, ${r.fiveXx} 5xx, ${r.findings.length} problems\n`,
      );
    } finally {
      await services.close();
    }
  }
  return {
    seed,
    rounds,
    requests,
    fiveXx,
    byService,
    findings: problems.length,
    problems: problems.slice(0, 50),
    logged: logged.slice(0, 20),
  };
}
