import { describe, expect, it } from 'vitest';
import { DEFAULT_MOCK_PORT, MockConfigError, parseMockConfig } from '../../mock/config.js';

describe('parseMockConfig()', () => {
  it('listens on 4010 when MOCK_PORT is unset or empty', () => {
    expect(parseMockConfig({}).port).toBe(DEFAULT_MOCK_PORT);
    expect(parseMockConfig({ MOCK_PORT: '' }).port).toBe(4010);
  });

  it('takes any whole port from 0 (a free one) to 65535', () => {
    expect(parseMockConfig({ MOCK_PORT: '0' }).port).toBe(0);
    expect(parseMockConfig({ MOCK_PORT: '4020' }).port).toBe(4020);
    expect(parseMockConfig({ MOCK_PORT: '65535' }).port).toBe(65535);
  });

  it.each(['abc', '-1', '65536', '4010.5', '1e3', '0x10', ' 4010', '40 10'])(
    'refuses MOCK_PORT=%j with a message that names the variable and the bad value',
    (value) => {
      expect(() => parseMockConfig({ MOCK_PORT: value })).toThrow(MockConfigError);
      expect(() => parseMockConfig({ MOCK_PORT: value })).toThrow(`MOCK_PORT must be a whole number from 0 to 65535`);
      expect(() => parseMockConfig({ MOCK_PORT: value })).toThrow(`not "${value}"`);
    },
  );
});

describe('parseMockConfig() and HESH_TENANTS', () => {
  it('accepts any well-formed tenant when HESH_TENANTS is unset, and only the listed ones when it is set', () => {
    expect(parseMockConfig({}).tenants).toBeUndefined();
    expect(parseMockConfig({ HESH_TENANTS: '40dd0c53-2fa7-4193-82ae-14d4e62c20fb, a3c1f0de-5b7e-4c2a-9f1d-6e8b0c4d2a71' }).tenants).toEqual([
      '40dd0c53-2fa7-4193-82ae-14d4e62c20fb',
      'a3c1f0de-5b7e-4c2a-9f1d-6e8b0c4d2a71',
    ]);
  });

  it('refuses a HESH_TENANTS entry that is not a UUID v4, naming the variable and the value', () => {
    expect(() => parseMockConfig({ HESH_TENANTS: '40dd0c53-2fa7-1193-82ae-14d4e62c20fb' })).toThrow(
      'HESH_TENANTS must list UUID v4 tenant ids, not "40dd0c53-2fa7-1193-82ae-14d4e62c20fb"',
    );
  });
});
