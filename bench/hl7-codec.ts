// Micro-benchmark of the pure HL7 path: MLLP deframing + parsing + reading the fields a gateway
// needs, for CareWire's codec and for @medplum/core's Hl7Message side by side, on the same frames.
//
//   npx node bench/hl7-codec.ts [--quick]
//
// The corpus is the outside samples in ../shared/hl7-samples (those that parse, with CR
// terminators) plus two built-in messages: an ORU^R01 with 6 OBX (the benchmark message)
// and an ADT^A01. The stream is cut into 1460-byte chunks (a typical TCP segment) so that frames
// span chunks as they do on a socket.

import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Hl7Message as MedplumMessage } from '@medplum/core';
import { buildAck, frame, MllpDeframer, parseHl7, tryParseHl7 } from '../src/hl7/index.ts';
import { metricsFromNumbers } from './lib/measure.ts';
import type { BenchOptions, BenchResult } from './lib/types.ts';

const ORU_6_OBX = [
  'MSH|^~\\&|MONITOR|ICU-3^1.2.3^ISO|CAREWIRE|HOSP|20240101120000.000+0000||ORU^R01^ORU_R01|MSG000001|P|2.6|||AL|NE||UNICODE UTF-8',
  'PID|1||MRN12345^^^HOSP^MR||Doe^Jane^Q||19800101|F|||1 Main St^^Springfield^IL^62701',
  'PV1|1|I|ICU^3^1',
  'OBR|1|||PCD-01^Vitals^IHE|||20240101115959',
  'OBX|1|NM|147842^MDC_ECG_HEART_RATE^MDC||72|/min^/min^UCUM|50-120|N|||F|||20240101115959',
  'OBX|2|NM|150456^MDC_PULS_OXIM_SAT_O2^MDC||97|%^%^UCUM|90-100|N|||F|||20240101115959',
  'OBX|3|NM|151562^MDC_RESP_RATE^MDC||16|/min^/min^UCUM|10-25|N|||F|||20240101115959',
  'OBX|4|NM|150344^MDC_TEMP^MDC||37.1|Cel^Cel^UCUM|36-38|N|||F|||20240101115959',
  'OBX|5|NM|150021^MDC_PRESS_BLD_NONINV_SYS^MDC||121|mm[Hg]^mm[Hg]^UCUM|90-140|N|||F|||20240101115959',
  'OBX|6|NM|150022^MDC_PRESS_BLD_NONINV_DIA^MDC||79|mm[Hg]^mm[Hg]^UCUM|60-90|N|||F|||20240101115959',
].join('\r');

const ADT_A01 = [
  'MSH|^~\\&|ADT|HOSP|CAREWIRE|HOSP|20240101120000||ADT^A01^ADT_A01|ADT000001|P|2.5.1',
  'EVN|A01|20240101120000',
  'PID|1||MRN12345^^^HOSP^MR~999-99-9999^^^USSSA^SS||Doe^Jane^Q^^Dr||19800101|F',
  'PV1|1|I|ICU^3^1^HOSP||||1234^Smith^John|||MED||||||||V123|||||||||||||||||||||||||20240101115000',
].join('\r');

function loadCorpus(): { name: string; bytes: Buffer }[] {
  const corpus = [
    { name: 'builtin/ORU_R01_6_OBX', bytes: Buffer.from(`${ORU_6_OBX}\r`) },
    { name: 'builtin/ADT_A01', bytes: Buffer.from(`${ADT_A01}\r`) },
  ];
  const here = dirname(fileURLToPath(import.meta.url));
  const dir = process.env.CAREWIRE_HL7_SAMPLES ?? join(here, '../../shared/hl7-samples');
  if (!existsSync(dir)) return corpus;
  for (const sub of readdirSync(dir, { withFileTypes: true })) {
    if (!sub.isDirectory()) continue;
    for (const file of readdirSync(join(dir, sub.name)).sort()) {
      if (file.startsWith('LICENSE')) continue;
      const raw = readFileSync(join(dir, sub.name, file), 'latin1').replace(/^\u00ef\u00bb\u00bf/, '');
      const bytes = Buffer.from(raw.replace(/\r\n|\n/g, '\r'), 'latin1');
      // Only messages both parsers can read are a fair comparison.
      if (tryParseHl7(bytes).ok) corpus.push({ name: `${sub.name}/${file}`, bytes });
    }
  }
  return corpus;
}

function chunk(stream: Buffer, size: number): Buffer[] {
  const out: Buffer[] = [];
  for (let i = 0; i < stream.length; i += size) out.push(stream.subarray(i, i + size));
  return out;
}

/**
 * Messages per second of each function, measured in alternating rounds and keeping each one's best
 * round: the machine may be shared, and interleaving gives both parsers the same conditions.
 */
function compare(ms: number, perCall: number, fns: Record<string, () => number>): Record<string, number> {
  const rounds = ms >= 1000 ? 5 : 2;
  const best: Record<string, number> = {};
  let sink = 0;
  for (const fn of Object.values(fns)) {
    const warmEnd = performance.now() + Math.min(200, ms / 4);
    while (performance.now() < warmEnd) sink += fn();
  }
  for (let r = 0; r < rounds; r++) {
    for (const [name, fn] of Object.entries(fns)) {
      let calls = 0;
      const start = performance.now();
      let now = start;
      while (now - start < ms / rounds) {
        sink += fn();
        calls++;
        now = performance.now();
      }
      const rate = Math.round((calls * perCall) / ((now - start) / 1000));
      best[name] = Math.max(best[name] ?? 0, rate);
    }
  }
  if (sink === -1) console.log('unreachable');
  return best;
}

// What a gateway reads from every message: the header (dedup key, ack types) and the OBX values.
function readOurs(frameBytes: Buffer): number {
  const msg = parseHl7(frameBytes);
  const h = msg.header;
  let n = h.controlId.length + h.sendingApplication.namespaceId.length + h.acceptAckType.length;
  for (const obx of msg.segments('OBX')) n += obx.get(5).length + obx.get('3.1').length;
  return n;
}

function readMedplum(frameBytes: Buffer): number {
  const msg = MedplumMessage.parse(frameBytes.toString('utf8'));
  const msh = msg.getSegment('MSH')!;
  let n = msh.getComponent(10, 1).length + msh.getComponent(3, 1).length + msh.getComponent(15, 1).length;
  for (const obx of msg.getAllSegments('OBX'))
    n += obx.getComponent(5, 1).length + obx.getComponent(3, 1).length;
  return n;
}

export async function measure(opts: { quick: boolean }): Promise<Record<string, unknown>> {
  const ms = opts.quick ? 300 : 2000;
  const corpus = loadCorpus();
  const frames = corpus.map((c) => c.bytes);
  const stream = Buffer.concat(frames.map((f) => frame(f)));
  const chunks = chunk(stream, 1460);
  const oru = Buffer.from(`${ORU_6_OBX}\r`);
  const oruStream = Buffer.concat(Array.from({ length: 50 }, () => frame(oru)));
  const oruChunks = chunk(oruStream, 1460);

  const deframe = (cs: Buffer[]): Buffer[] => {
    const d = new MllpDeframer();
    const out: Buffer[] = [];
    for (const c of cs) for (const f of d.push(c)) out.push(f);
    return out;
  };
  if (deframe(chunks).length !== frames.length) throw new Error('deframer lost frames');

  const pipeline = (cs: Buffer[], read: (b: Buffer) => number) => () => {
    let n = 0;
    for (const f of deframe(cs)) n += read(f);
    return n;
  };

  const results: Record<string, unknown> = {
    corpus: corpus.map((c) => c.name),
    messagesPerPass: frames.length,
    chunkBytes: 1460,
    durationMsPerCase: ms,
  };
  const table: Record<string, { carewire: number; medplum?: number }> = {};

  const deframeOnly = compare(ms, frames.length, { carewire: () => deframe(chunks).length }).carewire!;
  table['deframe only (corpus)'] = { carewire: deframeOnly };
  table['deframe+parse+read (corpus)'] = compare(ms, frames.length, {
    carewire: pipeline(chunks, readOurs),
    medplum: pipeline(chunks, readMedplum),
  }) as { carewire: number; medplum: number };
  table['deframe+parse+read (ORU^R01, 6 OBX)'] = compare(ms, 50, {
    carewire: pipeline(oruChunks, readOurs),
    medplum: pipeline(oruChunks, readMedplum),
  }) as { carewire: number; medplum: number };
  table['parse only (ORU^R01, 6 OBX)'] = compare(ms, 1, {
    carewire: () => parseHl7(oru).segmentCount,
    medplum: () => MedplumMessage.parse(oru.toString('utf8')).segments.length,
  }) as { carewire: number; medplum: number };
  const parsedOru = parseHl7(oru);
  const medplumOru = MedplumMessage.parse(oru.toString('utf8'));
  table['build ACK AA + encode'] = compare(ms, 1, {
    carewire: () => buildAck(parsedOru, { code: 'AA' }).toBuffer().length,
    medplum: () => Buffer.from(medplumOru.buildAck().toString()).length,
  }) as { carewire: number; medplum: number };
  results.msgsPerSecond = table;
  results.deframeMBps = Math.round(((deframeOnly / frames.length) * stream.length) / 1e6);
  return results;
}

/** Harness entry (`npm run bench -- NAME`): the same measurement as figures the harness can table. */
export async function run(opts: BenchOptions): Promise<BenchResult> {
  const r = await measure(opts);
  return {
    title: 'HL7 codec',
    description:
      'Deframe, parse and read the fields a gateway needs, CareWire beside @medplum/core, in one process (msg/s; one timed run of each case).',
    metrics: metricsFromNumbers(r.msgsPerSecond).map((m) => ({
      ...m,
      unit: 'msg/s',
      better: 'higher' as const,
    })),
    details: r,
  };
}

if (import.meta.main) {
  const quick = process.argv.includes('--quick');
  const r = await measure({ quick });
  const table = r.msgsPerSecond as Record<string, { carewire: number; medplum?: number }>;
  console.log(
    `HL7 codec micro-benchmark (${r.messagesPerPass} messages per pass, ${r.chunkBytes}-byte chunks)`,
  );
  console.log(
    `${'case'.padEnd(40)}${'CareWire msg/s'.padStart(16)}${'medplum msg/s'.padStart(16)}${'ratio'.padStart(8)}`,
  );
  for (const [name, v] of Object.entries(table)) {
    const ratio = v.medplum ? `${(v.carewire / v.medplum).toFixed(1)}x` : '';
    console.log(
      `${name.padEnd(40)}${v.carewire.toLocaleString('en').padStart(16)}${(v.medplum?.toLocaleString('en') ?? '-').padStart(16)}${ratio.padStart(8)}`,
    );
  }
  console.log(`deframing throughput: ${r.deframeMBps} MB/s`);
}
