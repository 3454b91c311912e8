/** Writes a transport report where the user asked: the JSON, and the plot as SVG and PNG. */
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { writePlots } from './plot.ts';
import type { TransportReport } from './report.ts';

export interface WrittenFiles {
  json: string;
  svg: string;
  png: string;
}

export async function writeTransportOutputs(
  report: TransportReport,
  files: { json: string; plot: string },
): Promise<WrittenFiles> {
  await mkdir(path.dirname(path.resolve(files.json)), { recursive: true });
  await mkdir(path.dirname(path.resolve(files.plot)), { recursive: true });
  await writeFile(files.json, `${JSON.stringify(report, null, 2)}\n`);
  const plots = await writePlots(report, files.plot);
  return { json: files.json, svg: plots.svg, png: plots.png };
}
