// The reference side of jalin's queue benchmark: BullMQ enqueues N jobs in bulk and processes
// them with a no-op handler at concurrency C on the same Redis; prints one JSON line.
//   node benches/bullmq/bench.js N C
const { Queue, Worker } = require('bullmq');
const IORedis = require('ioredis');

const n = Number(process.argv[2] || 100000);
const concurrency = Number(process.argv[3] || 50);
const opts = { host: '127.0.0.1', port: 6379, maxRetriesPerRequest: null };
const name = `jalin-bench-bullmq-${process.pid}`;

function seconds(since) {
  return Number(process.hrtime.bigint() - since) / 1e9;
}

(async () => {
  const queue = new Queue(name, { connection: new IORedis(opts) });
  let start = process.hrtime.bigint();
  for (let i = 0; i < n; i += 1000) {
    const jobs = [];
    for (let j = i; j < Math.min(n, i + 1000); j++) jobs.push({ name: 'deliver', data: { ids: [j] } });
    await queue.addBulk(jobs);
  }
  const enqueue = seconds(start);
  let done = 0;
  start = process.hrtime.bigint();
  let worker;
  await new Promise((resolve) => {
    worker = new Worker(name, async () => {}, { connection: new IORedis(opts), concurrency });
    worker.on('completed', () => {
      done += 1;
      if (done === n) resolve();
    });
  });
  const processing = seconds(start);
  const rssMb = process.memoryUsage().rss / 1e6;
  await worker.close();
  await queue.obliterate({ force: true });
  await queue.close();
  console.log(JSON.stringify({ jobs: n, concurrency, enqueue_per_s: n / enqueue, process_per_s: n / processing, rss_mb: rssMb }));
  process.exit(0);
})().catch((e) => {
  console.error(e);
  process.exit(1);
});
