import { describe, expect, it } from 'vitest';
import { DEPRECATED_OPERATIONS } from '../../generated/deprecations.js';
import { deprecationHeaders, deprecationHeadersAt } from '../../core/deprecation.js';

/** A table as npm run generate writes it, with one operation that has a sunset and one that has none yet. */
const TABLE = {
  listThings: { method: 'GET', path: '/api/v1/things/{id}', deprecatedAt: '2026-12-01', sunset: '2027-06-01', docs: 'https://api.example/docs#tag/Things/operation/listThings' },
  makeThing: { method: 'POST', path: '/api/v1/things', deprecatedAt: '2026-01-15', docs: 'https://api.example/docs#operation/makeThing' },
};

describe('deprecationHeaders', () => {
  it('answers Deprecation as @<unix seconds> of the day deprecated (RFC 9745), Sunset as an HTTP-date (RFC 8594) and a Link with rel="deprecation"', () => {
    expect(deprecationHeaders('listThings', TABLE)).toEqual({
      deprecation: `@${Date.UTC(2026, 11, 1) / 1000}`,
      sunset: 'Tue, 01 Jun 2027 00:00:00 GMT',
      link: '<https://api.example/docs#tag/Things/operation/listThings>; rel="deprecation"; type="text/html"',
    });
  });

  it('leaves Sunset out when the operation has no sunset date yet', () => {
    expect(deprecationHeaders('makeThing', TABLE)).toEqual({
      deprecation: '@1768435200',
      link: '<https://api.example/docs#operation/makeThing>; rel="deprecation"; type="text/html"',
    });
  });

  it('answers nothing for an operation that is not deprecated, or a name the table only inherits', () => {
    expect(deprecationHeaders('createThings', TABLE)).toEqual({});
    expect(deprecationHeaders('toString', TABLE)).toEqual({});
  });

  it('reads the generated table by default, so every operation it lists gets the headers', () => {
    for (const operationId of Object.keys(DEPRECATED_OPERATIONS)) {
      expect(deprecationHeaders(operationId)).toHaveProperty('deprecation', expect.stringMatching(/^@\d+$/));
    }
    expect(deprecationHeaders('no-such-operation')).toEqual({});
  });
});

describe('deprecationHeadersAt', () => {
  it('finds the deprecated operation of a request by method and path, as Express routes it (any case, a trailing slash, a template)', () => {
    const expected = deprecationHeaders('listThings', TABLE);
    expect(deprecationHeadersAt('get', '/api/v1/things/42', TABLE)).toEqual(expected);
    expect(deprecationHeadersAt('GET', '/API/v1/things/42/', TABLE)).toEqual(expected);
    expect(deprecationHeadersAt('POST', '/api/v1/things', TABLE)).toEqual(deprecationHeaders('makeThing', TABLE));
  });

  it('answers nothing for another method, a longer path or a path no deprecated operation has', () => {
    expect(deprecationHeadersAt('DELETE', '/api/v1/things/42', TABLE)).toEqual({});
    expect(deprecationHeadersAt('GET', '/api/v1/things/42/parts', TABLE)).toEqual({});
    expect(deprecationHeadersAt('GET', '/api/v1/things', TABLE)).toEqual({});
  });
});
