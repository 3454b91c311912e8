/**
 * Stops one of the store's worker threads: posts 'stop' and waits for it to exit, at most
 * `timeoutMs`. The timer is cleared (not just raced): a pending timer would keep a command-line
 * process alive for the whole timeout after its work is done.
 */
import type { Worker } from 'node:worker_threads';

export async function stopThread(worker: Worker, timeoutMs = 2000): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const exited = new Promise<void>((resolve) => {
    worker.once('exit', () => resolve());
    timer = setTimeout(resolve, timeoutMs);
  });
  worker.postMessage('stop');
  await exited;
  clearTimeout(timer);
}
