import { generateKeyPairSync } from 'node:crypto';
import { base64url, SignJWT } from 'jose';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadOrCreateEd25519, type SigningKey } from '../../src/auth/keys.ts';
import { TokenError, TokenService } from '../../src/auth/tokens.ts';
import { tempDir } from '../helpers/app.ts';

let key: SigningKey;
let svc: TokenService;
const claims = { sub: 'u1', sid: 's1', role: 'patient' as const, username: 'pat', pid: 'p1' };

beforeAll(() => {
  key = loadOrCreateEd25519(tempDir(), 'test');
  svc = new TokenService({ key, issuer: 'carewire', audience: 'carewire-api', ttlSec: 60 });
});

function parts(token: string) {
  const [h, p, s] = token.split('.') as [string, string, string];
  const dec = (x: string) => JSON.parse(new TextDecoder().decode(base64url.decode(x)));
  return { header: dec(h), payload: dec(p), sig: s };
}
const enc = (o: unknown) => base64url.encode(JSON.stringify(o));

describe('access tokens', () => {
  it('round-trips a valid token', async () => {
    const { token } = await svc.issue(claims);
    const c = await svc.verify(token);
    expect(c).toMatchObject({ sub: 'u1', sid: 's1', role: 'patient', pid: 'p1' });
    expect(parts(token).header).toMatchObject({ alg: 'EdDSA', typ: 'at+jwt', kid: key.kid });
  });

  it('reuses the key file on a second start', () => {
    const dir = tempDir();
    const a = loadOrCreateEd25519(dir, 'k');
    const b = loadOrCreateEd25519(dir, 'k');
    expect(a.kid).toBe(b.kid);
  });

  it('refuses alg: none', async () => {
    const { token } = await svc.issue(claims);
    const { payload } = parts(token);
    const forged = `${enc({ alg: 'none', typ: 'at+jwt' })}.${enc(payload)}.`;
    await expect(svc.verify(forged)).rejects.toThrow(TokenError);
  });

  it('refuses a tampered role claim', async () => {
    const { token } = await svc.issue(claims);
    const { header, payload, sig } = parts(token);
    const forged = `${enc(header)}.${enc({ ...payload, role: 'admin' })}.${sig}`;
    await expect(svc.verify(forged)).rejects.toThrow(/invalid token/);
  });

  it('refuses HS256 signed with the public key (algorithm confusion)', async () => {
    const { token } = await svc.issue(claims);
    const { payload } = parts(token);
    const pubBytes = key.publicKey.export({ type: 'spki', format: 'pem' });
    const forged = await new SignJWT(payload)
      .setProtectedHeader({ alg: 'HS256', typ: 'at+jwt' })
      .sign(new TextEncoder().encode(String(pubBytes)));
    await expect(svc.verify(forged)).rejects.toThrow(/invalid token/);
  });

  it('refuses an RS256 token from another key', async () => {
    const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const forged = await new SignJWT({ sid: 's1', role: 'admin', username: 'x' })
      .setProtectedHeader({ alg: 'RS256', typ: 'at+jwt' })
      .setSubject('u1')
      .setIssuer('carewire')
      .setAudience('carewire-api')
      .setIssuedAt()
      .setExpirationTime('1h')
      .sign(privateKey);
    await expect(svc.verify(forged)).rejects.toThrow(/invalid token/);
  });

  it('refuses another audience, issuer or type even with a valid signature', async () => {
    const sign = (aud: string, iss: string, typ: string) =>
      new SignJWT({ sid: 's1', role: 'admin', username: 'x' })
        .setProtectedHeader({ alg: 'EdDSA', typ })
        .setSubject('u1')
        .setIssuer(iss)
        .setAudience(aud)
        .setIssuedAt()
        .setExpirationTime('1h')
        .sign(key.privateKey);
    await expect(svc.verify(await sign('other-api', 'carewire', 'at+jwt'))).rejects.toThrow(/invalid token/);
    await expect(svc.verify(await sign('carewire-api', 'evil', 'at+jwt'))).rejects.toThrow(/invalid token/);
    await expect(svc.verify(await sign('carewire-api', 'carewire', 'JWT'))).rejects.toThrow(/invalid token/);
  });

  it('refuses an unknown role even when signed', async () => {
    const forged = await new SignJWT({ sid: 's1', role: 'superuser', username: 'x' })
      .setProtectedHeader({ alg: 'EdDSA', typ: 'at+jwt' })
      .setSubject('u1')
      .setIssuer('carewire')
      .setAudience('carewire-api')
      .setIssuedAt()
      .setExpirationTime('1h')
      .sign(key.privateKey);
    await expect(svc.verify(forged)).rejects.toThrow(/unknown role/);
  });

  it('refuses an expired token, also once it was cached', async () => {
    const short = new TokenService({ key, issuer: 'carewire', audience: 'carewire-api', ttlSec: 1 });
    const { token } = await short.issue(claims);
    await short.verify(token); // now cached
    await new Promise((r) => setTimeout(r, 2100));
    await expect(short.verify(token)).rejects.toThrow(/expired/);
    const fresh = new TokenService({ key, issuer: 'carewire', audience: 'carewire-api', ttlSec: 1 });
    await expect(fresh.verify(token)).rejects.toThrow(/expired/);
  });

  it('gives every token at least its whole lifetime, though JWT times are whole seconds', async () => {
    const short = new TokenService({ key, issuer: 'carewire', audience: 'carewire-api', ttlSec: 1 });
    for (let i = 0; i < 20; i++) {
      const before = Date.now();
      const { token, expiresAt } = await short.issue(claims);
      expect(expiresAt - before).toBeGreaterThanOrEqual(1000);
      expect((await short.verify(token)).exp * 1000).toBe(expiresAt);
      await new Promise((r) => setTimeout(r, 37)); // land at different points within a second
    }
  });

  it('refuses garbage', async () => {
    for (const t of ['', 'a.b.c', 'not-a-jwt', `${enc({ alg: 'EdDSA' })}..`]) {
      await expect(svc.verify(t)).rejects.toThrow(TokenError);
    }
  });
});
