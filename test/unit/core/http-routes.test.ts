// The HTTP route registry modules use (ctx.httpRoute): longest prefix wins, 405 methods, one owner per
// method and prefix, release; and the base URL of the first http/https listener (ctx.httpBaseUrl).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { HttpRoutes } from '../../../src/core/http-routes.js';

test('the longest prefix serves a path; other methods under it list the allowed ones; release removes a route', () => {
  const r = new HttpRoutes();
  const a = () => {};
  const b = () => {};
  const releaseA = r.add('GET', '/upload/', a);
  r.add('get', '/upload/localhost/', b);
  r.add('PUT', '/upload/localhost/', b);
  assert.deepEqual(r.match('GET', '/upload/localhost/id/name.png'), { handler: b, rest: 'id/name.png' });
  assert.deepEqual(r.match('GET', '/upload/other/x'), { handler: a, rest: 'other/x' });
  assert.deepEqual(r.match('DELETE', '/upload/localhost/x'), { allow: ['GET', 'PUT'] });
  assert.equal(r.match('GET', '/metrics'), null);
  assert.throws(() => r.add('GET', '/upload/localhost/', a), /already served/);
  assert.throws(() => r.add('GET', 'upload', a), /starts and ends with/);
  releaseA();
  assert.equal(r.match('GET', '/upload/other/x'), null);
  assert.equal(r.size(), 2);
});

test('the base URL: none without a listener; http names its address (or the host on every address); https the host', () => {
  const r = new HttpRoutes();
  assert.equal(r.baseUrl('example.org'), null);
  const endpoints = [{ tls: false, ip: '127.0.0.1', port: 5280 }];
  r.endpoints = () => endpoints;
  assert.equal(r.baseUrl('example.org'), 'http://127.0.0.1:5280');
  endpoints[0] = { tls: false, ip: '::1', port: 80 };
  assert.equal(r.baseUrl('example.org'), 'http://[::1]');
  endpoints[0] = { tls: false, ip: '::', port: 5280 };
  assert.equal(r.baseUrl('example.org'), 'http://example.org:5280');
  endpoints[0] = { tls: true, ip: '127.0.0.1', port: 443 };
  assert.equal(r.baseUrl('example.org'), 'https://example.org');
});
