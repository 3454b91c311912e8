import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { updateBenchmarkDocs } from '../../bench/docs.ts';
import { endMarker, renderSection, startMarker, updateSections } from '../../bench/lib/doc-sections.ts';
import { runBenchmark } from '../../bench/lib/harness.ts';
import { metric, opsPerSecond, repeat } from '../../bench/lib/measure.ts';
import { parseBenchFile, readResults, resultPath } from '../../bench/lib/results.ts';
import type { BenchFile } from '../../bench/lib/types.ts';

const measureModule = path.resolve('bench/lib/measure.ts');
let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'carewire-harness-'));
  // A benchmark that follows the convention, counting how it was called so the test can check.
  await writeFile(
    path.join(dir, 'tiny.ts'),
    `import { metric, repeat } from ${JSON.stringify(measureModule)};
export async function run(opts) {
  let calls = 0;
  const runs = await repeat(() => { calls++; return 10 + calls; }, { warmup: 2, runs: opts.quick ? 3 : 5 });
  return { title: 'Tiny', description: 'calls: ' + calls + ' args: ' + opts.args.join(' '),
    metrics: [metric('value', 'ms', runs)] };
}
`,
  );
  await writeFile(path.join(dir, 'norun.ts'), 'export const x = 1;\n');
  await writeFile(path.join(dir, 'badresult.ts'), 'export async function run() { return { nope: 1 }; }\n');
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('bench harness', () => {
  it('runs a benchmark module, keeps every run and writes NAME.json with machine info', async () => {
    const results = path.join(dir, 'results');
    const { file, path: written } = await runBenchmark('tiny', {
      quick: true,
      args: ['--x', '1'],
      benchDir: dir,
      resultsDir: results,
      out: null,
    });
    expect(written).toBe(resultPath(results, 'tiny'));
    const onDisk = parseBenchFile(await readFile(written, 'utf8'), written);
    expect(onDisk).toEqual(file);
    expect(onDisk.benchmark).toBe('tiny');
    expect(onDisk.quick).toBe(true);
    expect(onDisk.args).toEqual(['--quick', '--x', '1']);
    expect(onDisk.machine.cores).toBeGreaterThan(0);
    expect(onDisk.machine.node).toBe(process.version);
    expect(onDisk.machine.cpu.length).toBeGreaterThan(0);
    expect(Number.isNaN(Date.parse(onDisk.date))).toBe(false);
    // 2 warm-up calls are dropped; the 3 measured runs saw calls 3, 4, 5.
    expect(onDisk.result.description).toBe('calls: 5 args: --x 1');
    expect(onDisk.result.metrics[0]).toMatchObject({ runs: [13, 14, 15], median: 14, min: 13, max: 15 });
    expect(onDisk.result.metrics[0]!.spread).toBeCloseTo(2 / 14);
    expect(await readResults(results)).toEqual([file]);
  });

  it('refuses unknown names, path tricks and modules that break the convention', async () => {
    const o = { quick: true, args: [], benchDir: dir, resultsDir: path.join(dir, 'r2'), out: null };
    await expect(runBenchmark('missing', o)).rejects.toThrow(/no benchmark "missing"/);
    await expect(runBenchmark('../etc/passwd', o)).rejects.toThrow(/invalid benchmark name/);
    await expect(runBenchmark('Tiny', o)).rejects.toThrow(/invalid benchmark name/);
    await expect(runBenchmark('norun', o)).rejects.toThrow(/does not export a run/);
    await expect(runBenchmark('badresult', o)).rejects.toThrow(/must return \{ title/);
  });

  it('rejects results files that are not benchmark results', () => {
    expect(() => parseBenchFile('{', 'x.json')).toThrow(/not JSON/);
    expect(() => parseBenchFile('{"format":"other"}', 'x.json')).toThrow(/not a benchmark result/);
    expect(() => parseBenchFile('{"format":"carewire-bench/1","benchmark":"../x"}', 'x.json')).toThrow(
      /benchmark name/,
    );
    expect(() =>
      parseBenchFile('{"format":"carewire-bench/1","benchmark":"x","machine":{}}', 'x.json'),
    ).toThrow(/result\.metrics/);
  });

  it('measure helpers: warm-up is dropped, metrics refuse nonsense', async () => {
    const seen: number[] = [];
    const runs = await repeat(
      (i) => {
        seen.push(i);
        return i * 2;
      },
      { warmup: 2, runs: 3 },
    );
    expect(seen).toEqual([-1, -2, 0, 1, 2]);
    expect(runs).toEqual([0, 2, 4]);
    await expect(repeat(() => 1, { warmup: 0, runs: 0 })).rejects.toThrow(/runs/);
    expect(() => metric('m', 'ms', [])).toThrow(/no runs/);
    expect(() => metric('m', 'ms', [1, Number.NaN])).toThrow(/non-finite/);
    let calls = 0;
    const ops = await opsPerSecond(
      'count',
      () => {
        calls++;
      },
      { iterations: 100, warmup: 1, runs: 2 },
    );
    expect(calls).toBe(300);
    expect(ops.runs).toHaveLength(2);
    expect(ops.better).toBe('higher');
    expect(ops.median).toBeGreaterThan(0);
  });

  it('rewrites only the marked sections of the docs and keeps the prose', async () => {
    const file: BenchFile = {
      format: 'carewire-bench/1',
      benchmark: 'tiny',
      date: '2026-01-02T03:04:05.000Z',
      quick: false,
      args: [],
      durationSeconds: 1.5,
      machine: {
        cpu: 'Test CPU',
        cores: 2,
        memoryGiB: 4,
        node: 'v24.0.0',
        platform: 'linux',
        arch: 'x64',
        kernel: '6.1',
        hostname: 'h',
      },
      result: { title: 'Tiny', description: 'd', metrics: [metric('value', 'ms', [1, 2, 3])] },
    };
    const section = renderSection(file);
    expect(section).toContain('Test CPU (2 cores), Node v24.0.0');
    expect(section).toContain('| value | 2 ms | ±50.0 % | 3 | lower |');

    const doc = [
      '# Benchmarks',
      'Intro prose stays.',
      '## Tiny',
      startMarker('tiny'),
      'old table',
      endMarker('tiny'),
      'Prose after stays too.',
      '## Other',
      startMarker('other'),
      'untouched',
      endMarker('other'),
      '',
    ].join('\n');
    const r = updateSections(
      doc,
      new Map([
        ['tiny', section],
        ['nomarker', 'x'],
      ]),
    );
    expect(r.updated).toEqual(['tiny']);
    expect(r.missingMarkers).toEqual(['nomarker']);
    expect(r.text).not.toContain('old table');
    expect(r.text).toContain(`${startMarker('tiny')}\n${section}\n${endMarker('tiny')}`);
    expect(r.text).toContain('Intro prose stays.');
    expect(r.text).toContain('Prose after stays too.');
    expect(r.text).toContain(`${startMarker('other')}\nuntouched\n${endMarker('other')}`);
    // Running it again changes nothing.
    expect(updateSections(r.text, new Map([['tiny', section]])).text).toBe(r.text);

    expect(() => updateSections(`${startMarker('tiny')}\nno end`, new Map([['tiny', 'x']]))).toThrow(
      /no matching/,
    );
    expect(() =>
      updateSections(
        `${startMarker('tiny')}${endMarker('tiny')}${startMarker('tiny')}${endMarker('tiny')}`,
        new Map([['tiny', 'x']]),
      ),
    ).toThrow(/twice/);

    // The docs script does the same on files.
    const docPath = path.join(dir, 'benchmarks.md');
    const resultsDir = path.join(dir, 'docs-results');
    await writeFile(docPath, doc);
    const { writeResult } = await import('../../bench/lib/results.ts');
    await writeResult(resultsDir, file);
    const u = await updateBenchmarkDocs({ doc: docPath, resultsDir });
    expect(u.updated).toEqual(['tiny']);
    expect(await readFile(docPath, 'utf8')).toBe(r.text);
  });

  it('runs the real transport benchmark in quick mode and writes its JSON', async () => {
    const results = path.join(dir, 'transport-results');
    const { file } = await runBenchmark('transport', {
      quick: true,
      args: [],
      resultsDir: results,
      out: null,
    });
    const names = file.result.metrics.map((m) => m.name);
    for (const p of ['udp', 'tcp', 'tls', 'ws', 'http']) expect(names).toContain(`${p} 64 B round trip p50`);
    expect(names).toContain('TLS 1.3 resumed (ticket) p50');
    for (const m of file.result.metrics) {
      expect(m.runs).toHaveLength(1);
      expect(m.median).toBeGreaterThan(0);
    }
    const onDisk = parseBenchFile(
      await readFile(path.join(results, 'transport.json'), 'utf8'),
      'transport.json',
    );
    expect(onDisk.result.tables?.length).toBeGreaterThan(1);
  });
});
