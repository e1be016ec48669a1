import { describe, expect, it } from 'vitest';
import { concretePathRefusal } from '../../mock/contract-front.js';

const PATHS = {
  '/api/v1/public/users/batch': { post: {}, parameters: [] },
  '/api/v1/public/users/{id}': { get: {} },
};

describe('concretePathRefusal', () => {
  it('refuses GET on a concrete path that documents only POST, even where a templated path would take it', () => {
    expect(concretePathRefusal(PATHS, 'GET', '/api/v1/public/users/batch')).toEqual(['POST']);
    expect(concretePathRefusal(PATHS, 'DELETE', '/api/v1/public/users/batch?x=1')).toEqual(['POST']);
  });

  it('leaves a documented method, a templated path, an unknown path and a preflight to Prism', () => {
    expect(concretePathRefusal(PATHS, 'POST', '/api/v1/public/users/batch')).toBeUndefined();
    expect(concretePathRefusal(PATHS, 'GET', '/api/v1/public/users/0190f3c2-6c1e-7a4b-9d2e-5f8a1b3c4d5e')).toBeUndefined();
    expect(concretePathRefusal(PATHS, 'GET', '/nowhere')).toBeUndefined();
    expect(concretePathRefusal(PATHS, 'OPTIONS', '/api/v1/public/users/batch')).toBeUndefined();
  });
});
