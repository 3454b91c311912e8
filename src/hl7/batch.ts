// Splitting a file or stream that holds several messages: a plain sequence of MSH...MSH... ("batch
// without batch protocol") and/or HL7 batch envelopes (FHS/BHS ... BTS/FTS, which are dropped).

import { Buffer } from 'node:buffer';

const ENVELOPE = /^(?:FHS|BHS|BTS|FTS)/;

function boundaries(text: string): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  let current = -1;
  let pos = text.charCodeAt(0) === 0xfeff ? 1 : text.startsWith('\u00ef\u00bb\u00bf') ? 3 : 0;
  while (pos < text.length) {
    let end = text.length;
    const cr = text.indexOf('\r', pos);
    if (cr >= 0) end = cr;
    const lf = text.indexOf('\n', pos);
    if (lf >= 0 && lf < end) end = lf;
    const next = end >= text.length ? end : end + (text[end] === '\r' && text[end + 1] === '\n' ? 2 : 1);
    const head = text.slice(pos, pos + 3);
    if (head === 'MSH' || ENVELOPE.test(head)) {
      if (current >= 0) out.push([current, pos]);
      current = head === 'MSH' ? pos : -1;
    }
    pos = next;
  }
  if (current >= 0) out.push([current, text.length]);
  return out;
}

/**
 * Splits input into one piece per message, each starting at its MSH and keeping its own line
 * endings. Batch header/trailer segments (FHS, BHS, BTS, FTS) and anything before the first MSH
 * are dropped. Buffers are split on bytes (subarrays, no copy), so each piece can go to parseHl7.
 */
export function splitMessages(input: string): string[];
export function splitMessages(input: Uint8Array): Buffer[];
export function splitMessages(input: string | Uint8Array): string[] | Buffer[] {
  if (typeof input === 'string') return boundaries(input).map(([a, b]) => input.slice(a, b));
  const buf = Buffer.isBuffer(input) ? input : Buffer.from(input.buffer, input.byteOffset, input.byteLength);
  // latin1 maps each byte to one character, so string offsets are byte offsets.
  return boundaries(buf.toString('latin1')).map(([a, b]) => buf.subarray(a, b));
}
