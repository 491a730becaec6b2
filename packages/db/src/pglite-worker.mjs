// PGlite on a thread of its own (see openDatabase({ thread: true })): runs the statements the main thread
// posts, in arrival order, and posts back rows or the error. Plain JavaScript so it loads under any loader.
import { parentPort, workerData } from 'node:worker_threads';
import { PGlite } from '@electric-sql/pglite';

const INT8 = 20;
const lite = await PGlite.create({
  ...(workerData.dataDir ? { dataDir: workerData.dataDir } : {}),
  parsers: { [INT8]: (v) => BigInt(v) },
});

parentPort.on('message', async (m) => {
  try {
    let result = null;
    if (m.op === 'query') result = (await lite.query(m.sql, m.params)).rows;
    else if (m.op === 'exec') await lite.exec(m.sql);
    else if (m.op === 'close') await lite.close();
    parentPort.postMessage({ id: m.id, ok: true, result });
  } catch (e) {
    const error = { message: String(e?.message ?? e) };
    for (const k of ['code', 'detail', 'constraint', 'table', 'column', 'severity']) {
      if (e?.[k] !== undefined) error[k] = String(e[k]);
    }
    parentPort.postMessage({ id: m.id, ok: false, error });
  }
});
parentPort.postMessage({ ready: true });
