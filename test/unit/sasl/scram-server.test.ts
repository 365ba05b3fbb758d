// Tests for the SCRAM server and client (RFC 5802, RFC 7677, channel binding RFC 5929/9266).
import { before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { ChannelBindingType, SaslContext, SaslStep } from '../../../src/core/sasl/mechanism.js';
import { deriveCredentials, type ScramHash, type StoredCredentials } from '../../../src/core/sasl/scram-credentials.js';
import { ScramServerSession, type ScramServerOptions } from '../../../src/core/sasl/scram-server.js';
import { ScramClient, ScramClientError } from '../../../src/core/sasl/scram-client.js';

type Ctx = SaslContext & { lookups: string[] };

function ctxFor(users: Record<string, StoredCredentials>, over: Partial<SaslContext> = {}): Ctx {
  const lookups: string[] = [];
  return {
    lookups,
    lookup: async (u) => {
      lookups.push(u);
      return Object.hasOwn(users, u) ? users[u]! : null;
    },
    secure: true,
    channelBinding: () => null,
    advertisedChannelBindings: [],
    ...over,
  };
}

/** A context whose connection has the given binding data, all advertised. */
function cbCtx(users: Record<string, StoredCredentials>, cb: Partial<Record<ChannelBindingType, Buffer>>, over: Partial<SaslContext> = {}): Ctx {
  return ctxFor(users, {
    channelBinding: (t) => cb[t] ?? null,
    advertisedChannelBindings: Object.keys(cb) as ChannelBindingType[],
    ...over,
  });
}

function text(step: SaslStep): string {
  assert.ok(step.kind === 'challenge' || step.kind === 'success', `expected data, got ${JSON.stringify(step)}`);
  return step.data ? step.data.toString('utf8') : '';
}

function assertFailure(step: SaslStep, condition: string): void {
  assert.equal(step.kind, 'failure', `expected failure ${condition}, got ${JSON.stringify(step)}`);
  if (step.kind === 'failure') assert.equal(step.condition, condition);
}

function session(mech: string, ctx: SaslContext, opts?: ScramServerOptions): ScramServerSession {
  const m = /^SCRAM-(SHA-1|SHA-256)(-PLUS)?$/.exec(mech)!;
  return new ScramServerSession(m[1] as ScramHash, m[2] !== undefined, ctx, opts);
}

/** Runs a full exchange: alice sends client-first, receives server-first, sends client-final. */
async function exchange(server: ScramServerSession, client: ScramClient): Promise<{ first: SaslStep; final: SaslStep | null }> {
  const first = await server.step(client.clientFirst());
  if (first.kind !== 'challenge') return { first, final: null };
  const final = await server.step(await client.clientFinal(first.data));
  return { first, final };
}

let users: Record<string, StoredCredentials>;
const CB_EXPORTER = Buffer.alloc(32, 7);
const CB_ENDPOINT = Buffer.alloc(32, 9);

before(async () => {
  users = {
    user: await deriveCredentials('pencil'),
    'a,b=c': await deriveCredentials('comma'),
    IX: await deriveCredentials('I\u00ADX'),
    sha1only: await deriveCredentials('pencil', { hashes: ['SHA-1'] }),
  };
});

describe('SCRAM RFC test vectors', () => {
  it('RFC 5802 §5 SCRAM-SHA-1 exchange, byte for byte', async () => {
    const creds = await deriveCredentials('pencil', { hashes: ['SHA-1'], salt: Buffer.from('QSXCR+Q6sek8bf92', 'base64') });
    const server = session('SCRAM-SHA-1', ctxFor({ user: creds }), { serverNonce: '3rfcNHYJY1ZVvWVs7j' });
    const client = new ScramClient({ mechanism: 'SCRAM-SHA-1', username: 'user', password: 'pencil', clientNonce: 'fyko+d2lbbFgONRv9qkxdawL' });

    assert.equal(client.clientFirst().toString(), 'n,,n=user,r=fyko+d2lbbFgONRv9qkxdawL');
    const first = await server.step(client.clientFirst());
    assert.equal(text(first), 'r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,s=QSXCR+Q6sek8bf92,i=4096');
    const clientFinal = await client.clientFinal(text(first));
    assert.equal(clientFinal.toString(), 'c=biws,r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,p=v0X8v3Bz2T0CJGbJQyF0X+HI4Ts=');
    const final = await server.step(clientFinal);
    assert.equal(final.kind, 'success');
    assert.equal(text(final), 'v=rmF9pqV8S7suAoZWja4dJRkFsKQ=');
    if (final.kind === 'success') {
      assert.equal(final.username, 'user');
      assert.equal(final.authzid, undefined);
    }
    client.verifyServerFinal(text(final));
    assert.equal(client.serverVerified, true);
  });

  it('RFC 7677 §3 SCRAM-SHA-256 exchange, byte for byte', async () => {
    const creds = await deriveCredentials('pencil', { hashes: ['SHA-256'], salt: Buffer.from('W22ZaJ0SNY7soEsUEjb6gQ==', 'base64') });
    const server = session('SCRAM-SHA-256', ctxFor({ user: creds }), { serverNonce: '%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0' });
    // The server is driven with the RFC's literal client messages, independent of ScramClient.
    const first = await server.step(Buffer.from('n,,n=user,r=rOprNGfwEbeRWgbNEkqO'));
    assert.equal(text(first), 'r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096');
    const final = await server.step(Buffer.from(
      'c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ='));
    assert.equal(final.kind, 'success');
    assert.equal(text(final), 'v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=');

    // And ScramClient produces the same proof.
    const client = new ScramClient({ mechanism: 'SCRAM-SHA-256', username: 'user', password: 'pencil', clientNonce: 'rOprNGfwEbeRWgbNEkqO' });
    const cf = await client.clientFinal(text(first));
    assert.equal(cf.toString(), 'c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=');
    client.verifyServerFinal('v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=');
  });
});

describe('SCRAM round trips', () => {
  for (const mech of ['SCRAM-SHA-1', 'SCRAM-SHA-256']) {
    it(`${mech}: alice authenticates and verifies the server`, async () => {
      const client = new ScramClient({ mechanism: mech, username: 'user', password: 'pencil' });
      const { first, final } = await exchange(session(mech, ctxFor(users)), client);
      assert.equal(first.kind, 'challenge');
      assert.equal(final?.kind, 'success');
      if (final?.kind === 'success') assert.equal(final.username, 'user');
      client.verifyServerFinal(final!.kind === 'success' ? final!.data! : Buffer.alloc(0));
      assert.ok(client.serverVerified);
    });
  }

  for (const mech of ['SCRAM-SHA-1-PLUS', 'SCRAM-SHA-256-PLUS']) {
    for (const [cbType, cbData] of [['tls-exporter', CB_EXPORTER], ['tls-server-end-point', CB_ENDPOINT]] as const) {
      it(`${mech} with ${cbType}: alice binds to the channel`, async () => {
        const ctx = cbCtx(users, { 'tls-exporter': CB_EXPORTER, 'tls-server-end-point': CB_ENDPOINT });
        const client = new ScramClient({ mechanism: mech, username: 'user', password: 'pencil', cbType, cbData });
        assert.match(client.clientFirst().toString(), new RegExp(`^p=${cbType},,n=user,r=`));
        const { final } = await exchange(session(mech, ctx), client);
        assert.equal(final?.kind, 'success', JSON.stringify(final));
        client.verifyServerFinal(final!.kind === 'success' ? final!.data! : Buffer.alloc(0));
      });
    }
  }

  it('asks for client-first with an empty challenge when <auth/> had no initial response', async () => {
    const server = session('SCRAM-SHA-256', ctxFor(users));
    const empty = await server.step(Buffer.alloc(0));
    assert.equal(empty.kind, 'challenge');
    assert.equal(text(empty), '');
    const client = new ScramClient({ mechanism: 'SCRAM-SHA-256', username: 'user', password: 'pencil' });
    const { final } = await exchange(server, client);
    assert.equal(final?.kind, 'success');
    // A second empty response is not client-first.
    const s2 = session('SCRAM-SHA-256', ctxFor(users));
    await s2.step(Buffer.alloc(0));
    assertFailure(await s2.step(Buffer.alloc(0)), 'malformed-request');
  });

  it('decodes =2C and =3D in the username', async () => {
    const ctx = ctxFor(users);
    const client = new ScramClient({ mechanism: 'SCRAM-SHA-256', username: 'a,b=c', password: 'comma' });
    assert.match(client.clientFirst().toString(), /^n,,n=a=2Cb=3Dc,r=/);
    const { final } = await exchange(session('SCRAM-SHA-256', ctx), client);
    assert.equal(final?.kind, 'success');
    if (final?.kind === 'success') assert.equal(final.username, 'a,b=c');
    assert.deepEqual(ctx.lookups, ['a,b=c']);
  });

  it('SASLpreps the username and password', async () => {
    // The server preps the username itself: a raw soft hyphen looks up "IX".
    const ctx = ctxFor(users);
    const server = session('SCRAM-SHA-256', ctx);
    const first = await server.step(Buffer.from('n,,n=I\u00ADX,r=abcdef', 'utf8'));
    assert.equal(first.kind, 'challenge');
    assert.deepEqual(ctx.lookups, ['IX']);
    // Password "I<SHY>X" was stored prepared as "IX".
    const client = new ScramClient({ mechanism: 'SCRAM-SHA-1', username: 'IX', password: 'IX' });
    const { final } = await exchange(session('SCRAM-SHA-1', ctxFor(users)), client);
    assert.equal(final?.kind, 'success');
    // A prohibited character in the username is refused.
    assertFailure(await session('SCRAM-SHA-1', ctxFor(users)).step(Buffer.from('n,,n=us\u0007er,r=abcdef')), 'malformed-request');
  });
});

describe('SCRAM failures', () => {
  it('wrong password: not-authorized after the proof', async () => {
    const client = new ScramClient({ mechanism: 'SCRAM-SHA-256', username: 'user', password: 'crayon' });
    const { first, final } = await exchange(session('SCRAM-SHA-256', ctxFor(users)), client);
    assert.equal(first.kind, 'challenge');
    assertFailure(final!, 'not-authorized');
  });

  it('unknown user: same shape as a wrong password, with a stable fake salt', async () => {
    const mk = () => session('SCRAM-SHA-256', ctxFor(users));
    const known = await exchange(mk(), new ScramClient({ mechanism: 'SCRAM-SHA-256', username: 'user', password: 'crayon' }));
    const unknown = await exchange(mk(), new ScramClient({ mechanism: 'SCRAM-SHA-256', username: 'mallory', password: 'crayon' }));
    assert.equal(unknown.first.kind, 'challenge');
    const shape = (s: string) => s.replace(/^r=[^,]+,s=[A-Za-z0-9+/]+=*,i=(\d+)$/, 'r=*,s=*,i=$1');
    assert.equal(shape(text(unknown.first)), shape(text(known.first)));
    assert.equal(shape(text(unknown.first)), 'r=*,s=*,i=4096');
    // The same on the wire; only the log reason (never sent) tells them apart.
    const { reason: knownReason, ...knownWire } = known.final as Extract<SaslStep, { kind: 'failure' }>;
    const { reason: unknownReason, ...unknownWire } = unknown.final as Extract<SaslStep, { kind: 'failure' }>;
    assert.deepEqual(unknownWire, knownWire);
    assert.deepEqual([knownReason, unknownReason], ['wrong password', 'no such account']);
    assertFailure(unknown.final!, 'not-authorized');

    // Deterministic salt per unknown user, different across users.
    const salt = async (name: string) => text(await mk().step(Buffer.from(`n,,n=${name},r=abcdef`))).split(',')[1];
    assert.equal(await salt('mallory'), await salt('mallory'));
    assert.notEqual(await salt('mallory'), await salt('trudy'));

    // fakeIterations makes the fake count match the deployment's.
    const s = session('SCRAM-SHA-1', ctxFor(users), { fakeIterations: 10000 });
    assert.match(text(await s.step(Buffer.from('n,,n=nobody,r=abcdef'))), /,i=10000$/);
  });

  it('no stored credential for this hash: not-authorized after the proof', async () => {
    const client = new ScramClient({ mechanism: 'SCRAM-SHA-256', username: 'sha1only', password: 'pencil' });
    const { first, final } = await exchange(session('SCRAM-SHA-256', ctxFor(users)), client);
    assert.equal(first.kind, 'challenge');
    assertFailure(final!, 'not-authorized');
    // ...while SCRAM-SHA-1 works for the same account.
    const ok = await exchange(session('SCRAM-SHA-1', ctxFor(users)),
      new ScramClient({ mechanism: 'SCRAM-SHA-1', username: 'sha1only', password: 'pencil' }));
    assert.equal(ok.final?.kind, 'success');
  });

  it('wrong channel-binding data: not-authorized', async () => {
    const ctx = cbCtx(users, { 'tls-exporter': CB_EXPORTER });
    // e.g. a MITM terminating TLS: the client sees a different channel.
    const client = new ScramClient({ mechanism: 'SCRAM-SHA-256-PLUS', username: 'user', password: 'pencil', cbType: 'tls-exporter', cbData: Buffer.alloc(32, 8) });
    const { final } = await exchange(session('SCRAM-SHA-256-PLUS', ctx), client);
    assertFailure(final!, 'not-authorized');
    if (final?.kind === 'failure') assert.equal(final.text, 'channel-bindings-dont-match');
  });

  it('a plain (non-PLUS) client must send the GS2 header as c=', async () => {
    const server = session('SCRAM-SHA-256', ctxFor(users));
    const client = new ScramClient({ mechanism: 'SCRAM-SHA-256', username: 'user', password: 'pencil' });
    const first = await server.step(client.clientFirst());
    const cf = (await client.clientFinal(text(first))).toString().replace('c=biws', 'c=eSws'); // "y,,"
    assertFailure(await server.step(Buffer.from(cf)), 'not-authorized');
  });

  it('unsupported or unavailable channel-binding type: not-authorized', async () => {
    const ctx = cbCtx(users, { 'tls-exporter': CB_EXPORTER });
    for (const cbType of ['tls-unique', 'tls-server-end-point']) {
      const client = new ScramClient({ mechanism: 'SCRAM-SHA-256-PLUS', username: 'user', password: 'pencil', cbType, cbData: CB_ENDPOINT });
      const step = await session('SCRAM-SHA-256-PLUS', ctx).step(client.clientFirst());
      assertFailure(step, 'not-authorized');
      if (step.kind === 'failure') assert.equal(step.text, 'unsupported-channel-binding-type');
    }
  });

  it("'y' flag with channel binding advertised is a downgrade: not-authorized", async () => {
    const client = () => new ScramClient({ mechanism: 'SCRAM-SHA-256', username: 'user', password: 'pencil', clientSupportsChannelBinding: true });
    assert.match(client().clientFirst().toString(), /^y,,/);
    const advertised = cbCtx(users, { 'tls-exporter': CB_EXPORTER });
    const step = await session('SCRAM-SHA-256', advertised).step(client().clientFirst());
    assertFailure(step, 'not-authorized');
    if (step.kind === 'failure') assert.equal(step.text, 'server-does-support-channel-binding');
    // Nothing advertised: 'y' is honest and the exchange succeeds (c= is base64("y,,")).
    const { final } = await exchange(session('SCRAM-SHA-256', ctxFor(users)), client());
    assert.equal(final?.kind, 'success');
  });

  it("'p=' on a non-PLUS mechanism and 'n'/'y' on a -PLUS one are malformed", async () => {
    const ctx = cbCtx(users, { 'tls-exporter': CB_EXPORTER });
    assertFailure(await session('SCRAM-SHA-256', ctx).step(Buffer.from('p=tls-exporter,,n=user,r=abcdef')), 'malformed-request');
    assertFailure(await session('SCRAM-SHA-256-PLUS', ctx).step(Buffer.from('n,,n=user,r=abcdef')), 'malformed-request');
    assertFailure(await session('SCRAM-SHA-1-PLUS', ctx).step(Buffer.from('y,,n=user,r=abcdef')), 'malformed-request');
  });

  it('malformed client-first messages: malformed-request', async () => {
    const bad: Array<string | Buffer> = [
      'x,,n=user,r=abcdef', // unknown flag
      'n,n=user,r=abcdef', // GS2 header missing its second comma
      'n,,', // no bare message
      'n,,n=user', // no nonce
      'n,,r=abcdef,n=user', // wrong order
      'n,,n=,r=abcdef', // empty username
      'n,,n=us=2Xer,r=abcdef', // bad saslname escape
      'n,,n=user=,r=abcdef',
      'n,,m=ext,n=user,r=abcdef', // reserved m= extension
      'n,,n=user,r=', // empty nonce
      'n,,n=user,r=ab\u00e9', // nonce outside printable ASCII
      'n,,n=user,r=abc,def', // bad extension syntax
      'n,b=user,n=user,r=abcdef', // authzid not a=
      'n,a=us=1er,n=user,r=abcdef', // bad authzid escape
      'p=tls exporter,,n=user,r=abcdef', // bad cb-name
      'n,,n=us\0er,r=abcdef', // NUL
      Buffer.from([0x6e, 0x2c, 0x2c, 0x6e, 0x3d, 0xff, 0x2c, 0x72, 0x3d, 0x61]), // invalid UTF-8
      Buffer.alloc(9000, 0x61), // oversized
    ];
    for (const msg of bad) {
      const step = await session('SCRAM-SHA-256', ctxFor(users)).step(Buffer.isBuffer(msg) ? msg : Buffer.from(msg));
      assertFailure(step, 'malformed-request');
    }
  });

  it('malformed client-final messages: malformed-request; nonce mismatch: not-authorized', async () => {
    const start = async () => {
      const server = session('SCRAM-SHA-256', ctxFor(users));
      const client = new ScramClient({ mechanism: 'SCRAM-SHA-256', username: 'user', password: 'pencil' });
      const first = await server.step(client.clientFirst());
      const good = (await client.clientFinal(text(first))).toString();
      const nonce = /^r=([^,]+)/.exec(text(first))![1]!;
      return { server, good, nonce };
    };
    const mutations: Array<(good: string, nonce: string) => string> = [
      (g) => g.replace(/,p=.*$/, ''), // no proof
      (g) => g.replace(/,p=.*$/, ',p=!!!!'), // proof not base64
      (g) => g.replace(/,p=.*$/, ',p=AAAA'), // proof wrong length
      (g) => g.replace('c=biws', 'c=b!ws'), // cb not base64
      (g) => g.replace('c=biws,', ''), // no c=
      (_g, n) => `r=${n},c=biws,p=${Buffer.alloc(32).toString('base64')}`, // wrong order
      (g) => `${g},x=trailing`, // attribute after the proof
      (g) => g.replace('c=biws,', 'c=biws,m=ext,'), // reserved m=
      () => '',
    ];
    for (const mutate of mutations) {
      const { server, good, nonce } = await start();
      assertFailure(await server.step(Buffer.from(mutate(good, nonce))), 'malformed-request');
    }
    const { server, good, nonce } = await start();
    const mismatch = await server.step(Buffer.from(good.replace(nonce, `${nonce}X`)));
    assertFailure(mismatch, 'not-authorized');
    if (mismatch.kind === 'failure') assert.equal(mismatch.text, 'nonce mismatch');
  });

  it('unknown extensions in client-first and client-final are ignored', async () => {
    const server = session('SCRAM-SHA-256', ctxFor(users));
    const first = await server.step(Buffer.from('n,,n=user,r=abcdef,x=ext'));
    assert.equal(first.kind, 'challenge');
  });

  it('refuses further steps once finished', async () => {
    const server = session('SCRAM-SHA-256', ctxFor(users));
    const client = new ScramClient({ mechanism: 'SCRAM-SHA-256', username: 'user', password: 'pencil' });
    const { final } = await exchange(server, client);
    assert.equal(final?.kind, 'success');
    assertFailure(await server.step(client.clientFirst()), 'malformed-request');
  });

  it('a failing account store: temporary-auth-failure', async () => {
    const ctx = ctxFor(users, { lookup: async () => { throw new Error('db down'); } });
    assertFailure(await session('SCRAM-SHA-1', ctx).step(Buffer.from('n,,n=user,r=abcdef')), 'temporary-auth-failure');
  });
});

describe('SCRAM authzid', () => {
  const run = async (authzid: string, over: Partial<SaslContext> = {}) => {
    const client = new ScramClient({ mechanism: 'SCRAM-SHA-256', username: 'user', password: 'pencil', authzid });
    return exchange(session('SCRAM-SHA-256', ctxFor(users, over)), client);
  };

  it("accepts the user's own bare JID and returns it to the caller", async () => {
    const { final } = await run('user@example.com', { domain: 'example.com' });
    assert.equal(final?.kind, 'success');
    if (final?.kind === 'success') assert.equal(final.authzid, 'user@example.com');
    // Without a domain in the context the caller judges the domain.
    const other = await run('user@elsewhere.example');
    if (other.final?.kind === 'success') assert.equal(other.final.authzid, 'user@elsewhere.example');
    else assert.fail('expected success');
  });

  it('refuses somebody else, a full JID, a bare domain, or another host', async () => {
    for (const [authzid, over] of [
      ['admin@example.com', {}], ['user@example.com/res', {}], ['example.com', {}],
      ['user@other.example', { domain: 'example.com' }],
    ] as const) {
      const { first } = await run(authzid, over);
      assertFailure(first, 'invalid-authzid');
    }
  });

  it('escapes , and = in a=', async () => {
    const client = new ScramClient({ mechanism: 'SCRAM-SHA-1', username: 'user', password: 'pencil', authzid: 'a,=b' });
    assert.match(client.clientFirst().toString(), /^n,a=a=2C=3Db,n=user,/);
  });
});

describe('ScramClient', () => {
  it('refuses a server nonce that does not extend its own', async () => {
    const client = new ScramClient({ mechanism: 'SCRAM-SHA-1', username: 'user', password: 'pencil', clientNonce: 'abc' });
    await assert.rejects(client.clientFinal('r=xyzdef,s=QSXCR+Q6sek8bf92,i=4096'), ScramClientError);
    await assert.rejects(client.clientFinal('r=abc,s=QSXCR+Q6sek8bf92,i=4096'), ScramClientError);
    await assert.rejects(client.clientFinal('r=abcdef,s=QSXCR+Q6sek8bf92,i=0'), ScramClientError);
    await assert.rejects(client.clientFinal('m=x,r=abcdef,s=QSXCR+Q6sek8bf92,i=4096'), ScramClientError);
    const strict = new ScramClient({ mechanism: 'SCRAM-SHA-1', username: 'user', password: 'pencil', clientNonce: 'abc', minIterations: 4096 });
    await assert.rejects(strict.clientFinal('r=abcdef,s=QSXCR+Q6sek8bf92,i=1000'), /below the minimum/);
  });

  it('refuses a wrong server signature and reports e=', async () => {
    const server = session('SCRAM-SHA-256', ctxFor(users));
    const client = new ScramClient({ mechanism: 'SCRAM-SHA-256', username: 'user', password: 'pencil' });
    const { final } = await exchange(server, client);
    assert.equal(final?.kind, 'success');
    assert.throws(() => client.verifyServerFinal(`v=${Buffer.alloc(32).toString('base64')}`), /signature mismatch/);
    assert.throws(() => client.verifyServerFinal('e=invalid-proof'), (e: unknown) => e instanceof ScramClientError && e.serverError === 'invalid-proof');
    assert.equal(client.serverVerified, false);
  });

  it('needs channel-binding data for -PLUS', () => {
    assert.throws(() => new ScramClient({ mechanism: 'SCRAM-SHA-256-PLUS', username: 'u', password: 'p' }), RangeError);
    assert.throws(() => new ScramClient({ mechanism: 'SCRAM-MD5', username: 'u', password: 'p' }), RangeError);
  });
});
