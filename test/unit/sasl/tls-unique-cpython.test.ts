// tls-unique (RFC 5929 §3) as the server computes it equals what an OpenSSL-based client computes:
// CPython's ssl.SSLSocket.get_channel_binding('tls-unique') (what slixmpp sends), on TLS 1.2 and TLS 1.3.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import tls from 'node:tls';
import type { AddressInfo } from 'node:net';
import { tlsUnique } from '../../../src/core/sasl/channel-binding.js';
import { PYTHON } from '../../support/slixmpp.js';
import { testCertificateFile } from '../../support/harness.js';

// The client prints its view of the binding on the connection it made, then waits for the server to close.
const CLIENT = `
import socket, ssl, sys
ctx = ssl.create_default_context(cafile=sys.argv[2])
ctx.maximum_version = getattr(ssl.TLSVersion, sys.argv[3])
with ctx.wrap_socket(socket.create_connection(('127.0.0.1', int(sys.argv[1]))), server_hostname='localhost') as s:
    s.sendall((s.version() + ' ' + s.get_channel_binding('tls-unique').hex() + '\\n').encode())
    s.recv(1)
`;

let server: tls.Server;
before(async () => {
  const certFile = await testCertificateFile();
  const cert = readFileSync(certFile, 'utf8');
  const key = readFileSync(certFile.replace(/\.crt$/, '.key'), 'utf8');
  server = tls.createServer({ cert, key, minVersion: 'TLSv1.2' });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
});
after(() => server.close());

for (const [version, pyVersion] of [['TLSv1.2', 'TLSv1_2'], ['TLSv1.3', 'TLSv1_3']] as const) {
  test(`${version}: the server's tls-unique equals CPython's get_channel_binding('tls-unique')`, async () => {
    const conn = once(server, 'secureConnection') as Promise<[tls.TLSSocket]>;
    const child = spawn(PYTHON, ['-c', CLIENT, String((server.address() as AddressInfo).port), await testCertificateFile(), pyVersion], { stdio: ['ignore', 'pipe', 'pipe'] });
    let err = '';
    child.stderr.on('data', (d: Buffer) => (err += d));
    const [srv] = await conn;
    const [line] = (await once(srv, 'data')) as [Buffer];
    const ours = tlsUnique(srv, 'server');
    srv.end();
    await once(child, 'close');
    const [protocol, hex] = line.toString().trim().split(' ');
    assert.equal(protocol, version, err);
    assert.equal(ours?.toString('hex'), hex);
  });
}
