// Loads the outside sample corpus in /work/shared/hl7-samples (see its README.md).

import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
export const SAMPLES_DIR = process.env.CAREWIRE_HL7_SAMPLES ?? join(here, '../../../shared/hl7-samples');

export interface Sample {
  /** `folder/file` */
  name: string;
  bytes: Buffer;
}

export function loadSamples(): Sample[] {
  const out: Sample[] = [];
  for (const dir of readdirSync(SAMPLES_DIR, { withFileTypes: true })) {
    if (!dir.isDirectory()) continue;
    for (const file of readdirSync(join(SAMPLES_DIR, dir.name)).sort()) {
      if (file.startsWith('LICENSE')) continue;
      out.push({ name: `${dir.name}/${file}`, bytes: readFileSync(join(SAMPLES_DIR, dir.name, file)) });
    }
  }
  return out;
}

export function sample(name: string): Buffer {
  return readFileSync(join(SAMPLES_DIR, name));
}

/** The standard's wire form: CR segment terminators (the files use LF or CRLF). */
export function withCr(bytes: Buffer): Buffer {
  return Buffer.from(bytes.toString('latin1').replace(/\r\n|\n/g, '\r'), 'latin1');
}
