/**
 * The benchmark's load generator, in a process of its own (forked by vendor.bench.ts) so it never shares
 * an event loop with the server it measures. It is told the payment once (`payment`), then runs autocannon
 * for each `run` window and answers with the figures. A paid load takes its header values from `sequences`: each request takes a sequence
 * no other request is using (a chain, a payment channel), sends its next value, and gives it back when
 * answered — so each sequence is spent in order, one request at a time, as a wallet spends a chain.
 */
import autocannon from 'autocannon';

/** What to send: the header that carries the payment, and its values (in `sequences`, or one `fixed`). */
export interface Payment {
  readonly header: string;
  readonly sequences?: readonly (readonly string[])[];
  readonly fixed?: string;
}

/** One measured window. */
export interface Window {
  readonly url: string;
  readonly seconds: number;
  readonly connections: number;
  /** Requests per second over all connections; absent: as fast as the server answers. */
  readonly overallRate?: number;
  /** Stop after this many requests instead of after `seconds`. */
  readonly amount?: number;
  /** Send the payment (set up before); false: a plain request. */
  readonly paid: boolean;
}

export interface LoadResult {
  readonly requests: number;
  readonly requestsPerSec: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly non2xx: number;
}

type Context = { seq?: number };

/**
 * The request hooks that hand out sequence values, one request per sequence at a time. `inFlight` holds
 * the sequences taken by requests not answered yet: autocannon builds each connection's next request
 * before the window ends and never sends it, so `settle` gives those values back for the next window
 * (one that was sent after all is then sent again: a replay, which the gate answers as the first time).
 */
function sequencePayer(header: string, sequences: readonly (readonly string[])[], used: number[]) {
  const free = sequences.map((_, k) => k);
  const inFlight = new Set<number>();
  return {
    setupRequest: (req: autocannon.Request, context: Context) => {
      // First in, first out: every sequence is spent alike.
      const k = free.shift();
      if (k === undefined) throw new Error('more connections than sequences');
      context.seq = k;
      inFlight.add(k);
      const value = sequences[k]![used[k]!++];
      if (value === undefined) throw new Error('a sequence ran out of values: make them longer');
      return { ...req, headers: { ...req.headers, [header]: value } };
    },
    onResponse: (_status: number, _body: string, context: Context) => {
      if (context.seq !== undefined) {
        inFlight.delete(context.seq);
        free.push(context.seq);
      }
      context.seq = undefined;
    },
    settle: () => {
      for (const k of inFlight) used[k]!--;
    },
  };
}

let payment: Payment | undefined;
/** How far each sequence is spent: windows go on where the last one stopped. */
let used: number[] = [];

function requestFor(w: Window) {
  if (!w.paid || !payment) return {};
  if (payment.sequences) return sequencePayer(payment.header, payment.sequences, used);
  return { headers: { [payment.header]: payment.fixed! } };
}

async function run(w: Window): Promise<LoadResult> {
  const request = requestFor(w);
  const result = await autocannon({
    url: w.url,
    connections: w.connections,
    ...(w.amount ? { amount: w.amount } : { duration: w.seconds }),
    ...(w.overallRate ? { overallRate: w.overallRate } : {}),
    requests: [request as autocannon.Request],
  });
  if ('settle' in request) request.settle();
  return {
    requests: result.requests.total,
    requestsPerSec: Math.round(result.requests.average),
    p50Ms: result.latency.p50,
    p99Ms: result.latency.p99,
    non2xx: result.non2xx,
  };
}

process.on('message', async (m: { type: 'payment'; payment: Payment } | { type: 'run'; window: Window }) => {
  if (m.type === 'payment') {
    payment = m.payment;
    used = (payment.sequences ?? []).map(() => 0);
    process.send!({ type: 'ready' });
  } else {
    process.send!({ type: 'result', result: await run(m.window) });
  }
});
process.send!({ type: 'ready' });
