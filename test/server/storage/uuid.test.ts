import { describe, expect, it } from 'vitest';
import { uuidv7 } from '../../../core/uuid.js';

const UUID_V7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

describe('uuidv7', () => {
  it('puts the milliseconds in the first 48 bits, then the version 7 and the RFC 9562 variant', () => {
    const id = uuidv7(0x0190f3c26c1e);
    expect(id).toMatch(UUID_V7);
    expect(id.slice(0, 13)).toBe('0190f3c2-6c1e');
    expect(uuidv7(0).slice(0, 13)).toBe('00000000-0000');
    expect(uuidv7(2 ** 48 - 1).slice(0, 13)).toBe('ffffffff-ffff');
  });

  it('gives unique ids within one millisecond, across many refills of its entropy pool', () => {
    const ids = Array.from({ length: 20_000 }, () => uuidv7(1_700_000_000_000));
    expect(new Set(ids).size).toBe(ids.length);
    for (const id of ids) expect(id).toMatch(UUID_V7);
    // 74 random bits per id: every random hex digit takes all its values.
    for (const position of [15, 17, 20, 35]) expect(new Set(ids.map((id) => id[position])).size).toBe(16);
    expect(new Set(ids.map((id) => id[19]))).toEqual(new Set(['8', '9', 'a', 'b']));
  });

  it('keeps ids of later milliseconds sorting after earlier ones', () => {
    const earlier = uuidv7(1_700_000_000_000);
    const later = uuidv7(1_700_000_000_001);
    expect(later > earlier).toBe(true);
  });
});
