/**
 * Scheduled jobs shared by every broker process over one database (docs/operations.md §2). Each process
 * keeps its timers, but a run starts only after claiming the job's row in job_leases: due (its period
 * since the last run started has passed) and not held. So with any number of processes a job runs once
 * per period, never twice at once; a process that dies mid-run holds it only until its lease is over.
 * The jobs' own steps are safe to overlap anyway (each locks the rows it changes); the lease keeps a
 * daily settlement daily and spares the bank the same calls from every process.
 */
import type { BrokerContext } from '../context.ts';
import { newId } from '../context.ts';
import * as store from './store.ts';

/** How long a run may take before another process may start the job again (its steps stay safe). */
export const JOB_LEASE_MS = 5 * 60_000;

export interface JobRun<T> {
  /** False when another process ran it this period or runs it now: `fn` was not called. */
  readonly ran: boolean;
  readonly result?: T;
}

export function createJobService(ctx: Pick<BrokerContext, 'db' | 'clock' | 'random'>) {
  // This process, as the job rows name it.
  const holder = newId(ctx, 'proc');
  return {
    holder,
    /** Runs `fn` as job `name` if it is due and free, then makes it due again `periodMs` after this start. */
    async runOnce<T>(name: string, periodMs: number, fn: () => Promise<T>): Promise<JobRun<T>> {
      const started = BigInt(ctx.clock());
      const leaseUntil = started + BigInt(JOB_LEASE_MS);
      if (!(await store.claimJob(ctx.db, { name, holder, now: started, leaseUntil }))) return { ran: false };
      try {
        return { ran: true, result: await fn() };
      } finally {
        await store.releaseJob(ctx.db, { name, holder, nextAt: started + BigInt(periodMs) });
      }
    },
    /** Every job's row. */
    list: () => store.allJobs(ctx.db),
  };
}

export type JobService = ReturnType<typeof createJobService>;
