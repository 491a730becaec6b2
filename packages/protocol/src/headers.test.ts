import { describe, expect, it } from 'vitest';
import { walletCookieName, walletStateCookieName } from './headers.ts';

describe('server-side wallet cookie names', () => {
  it('differ for every vendor id and between the token and the sign-in state', () => {
    const ids = ['a b', 'a_b', 'a.b', 'x', 'x_state', 'x;=,', 'é'];
    const names = ids.flatMap((id) => [walletCookieName(id), walletStateCookieName(id)]);
    expect(new Set(names).size).toBe(names.length);
    // Only characters a cookie name may hold.
    for (const n of names) expect(n).toMatch(/^[A-Za-z0-9_.-]+$/);
  });
});
