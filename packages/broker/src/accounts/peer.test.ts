/** A peer's coin account: its customer id names the peer, and no password verifies against it. Pure. */
import { describe, expect, it } from 'vitest';
import { hashPassword, verifyPassword } from './password.ts';
import { NO_PASSWORD, peerCustomerId, peerOf } from './peer.ts';

describe("a peer's coin account", () => {
  it('is named after the peer, and only such names are a peer’s', () => {
    expect(peerCustomerId('peer-abc')).toBe('peer:peer-abc');
    expect(peerOf(peerCustomerId('peer-abc'))).toBe('peer-abc');
    expect(peerOf('cus_AAAAAAAAAAAAAAAA')).toBeUndefined();
  });

  it('has a password hash no password verifies against, not even the text itself', async () => {
    for (const password of ['', 'correct horse battery', NO_PASSWORD, 'decoy password'])
      expect(await verifyPassword(password, NO_PASSWORD)).toBe(false);
    // The same check does verify a real hash, so the refusal is the hash's, not the function's.
    const real = await hashPassword('correct horse battery', new Uint8Array(16), { t: 1, m: 64, p: 1 });
    expect(await verifyPassword('correct horse battery', real)).toBe(true);
  });
});
