/**
 * Entry point of the bench server when the client starts it itself: a separate Node process, so
 * the two ends of every round trip run on separate event loops (and, pinned, on separate cores).
 * Reports its control port over the IPC channel and exits when its parent goes away.
 * Argument: the core to pin to, or "-" for none.
 */
import { pinProcess } from './pinning.ts';
import { startBenchServer } from './server.ts';

const cpuArg = process.argv[2] ?? '-';
const cpu = cpuArg === '-' ? null : Number(cpuArg);
const sockperf = process.argv[3] !== 'no-sockperf';
if (cpu !== null) pinProcess(process.pid, cpu);

if (!process.send) {
  process.stderr.write('server-process.ts must be started with an IPC channel (child_process.fork)\n');
  process.exit(2);
}

const server = await startBenchServer({ host: '127.0.0.1', controlPort: 0, sockperf, sockperfCpu: cpu });
process.on('disconnect', () => {
  server.close().finally(() => process.exit(0));
});
process.send({ controlPort: server.controlPort });
