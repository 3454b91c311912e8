import { Hl7Message as MedplumMessage } from '@medplum/core';
import { expect } from 'vitest';
import type { Hl7Message } from '../../src/hl7/index.ts';

// A second opinion: every raw component and subcomponent value our codec reads must equal what
// @medplum/core's Hl7Message reads (it does not unescape, so raw values are compared).
export function compareWithMedplum(ours: Hl7Message, text: string): number {
  const theirs = MedplumMessage.parse(text);
  // Medplum keeps lines our parser skips (whitespace-only); compare the real segments.
  const theirSegments = theirs.segments.filter((s) => /^[A-Z][A-Z0-9]{2}$/.test(s.name));
  expect(theirSegments.map((s) => s.name)).toEqual(ours.allSegments().map((s) => s.name));
  let compared = 0;
  ours.allSegments().forEach((seg, i) => {
    const other = theirSegments[i]!;
    const lastField = seg.name === 'MSH' ? other.fields.length : other.fields.length - 1;
    expect(seg.fieldCount).toBe(lastField);
    for (let f = 1; f <= seg.fieldCount; f++) {
      const theirField = other.getField(f);
      if (seg.name === 'MSH' && f <= 2) {
        expect(seg.get(f)).toBe(theirField.toString());
        continue;
      }
      expect(seg.getRaw(f)).toBe(theirField.toString());
      const reps = Math.max(1, seg.repetitionCount(f));
      expect(reps).toBe(theirField.components.length);
      for (let r = 1; r <= reps; r++) {
        const comps = theirField.components[r - 1]!;
        for (let c = 1; c <= comps.length; c++) {
          expect(seg.getRaw(`${f}[${r}].${c}`)).toBe(theirField.getComponent(c, undefined, r - 1));
          const subs = comps[c - 1]!.split(ours.encoding.subcomponent).length;
          for (let sc = 1; sc <= subs; sc++) {
            expect(seg.getRaw(`${f}[${r}].${c}.${sc}`)).toBe(theirField.getComponent(c, sc - 1, r - 1));
            compared++;
          }
        }
      }
    }
  });
  return compared;
}
