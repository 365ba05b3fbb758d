// Profanity 0.13 (Debian, libstrophe) with its default settings, driven in tmux as a user types: joins a
// XEP-0045 room at conference.localhost, chats in it with a raw client, and generates and publishes its
// OMEMO keys (XEP-0384 device list and bundle over XEP-0163 PEP with publish-options).
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { until } from '../../support/until.js';
import { Jid } from '../../../src/core/jid.js';
import { ProfanityInTmux } from './profanity-tmux.js';
import { nextMessage, take } from '../interop/xmpp-client.js';
import { ALICE, clientTestOptions, missingExecutable, requireClient, startMatrixServer, type MatrixServer } from './matrix.js';

const missing = missingExecutable('/usr/bin/profanity', ['--version'], 'profanity')
  ?? missingExecutable('/usr/bin/tmux', ['-V'], 'tmux');
const opts = clientTestOptions(missing);
const ROOM = 'lounge@conference.localhost';
const NS_OMEMO_DEVICES = 'eu.siacs.conversations.axolotl.devicelist';

describe('Profanity 0.13, defaults: group chat and OMEMO', () => {
  let s: MatrixServer;
  let home: string;
  let p: ProfanityInTmux;
  before(async () => {
    if (opts.skip) return;
    // The embedded default's group chat and personal eventing modules on top of the test config.
    s = await startMatrixServer('TLSv1.3', {
      modules: { disco: {}, roster: {}, presence: {}, offline: {}, vcard: {}, private: {}, carbons: {}, caps: {}, pep: {}, muc: {}, mam: {} },
    });
    home = await mkdtemp(join(tmpdir(), 'xmppd-profanity-muc-'));
    p = new ProfanityInTmux({
      ...process.env, HOME: home, XDG_CONFIG_HOME: join(home, 'config'), XDG_DATA_HOME: join(home, 'data'),
      SSL_CERT_FILE: s.caFile, TERM: 'xterm-256color',
    });
    p.start();
    await p.shows(/Welcome to Profanity|profanity/i, 'Profanity started');
    p.type(`/account add ${ALICE.jid}`);
    p.type(`/account set ${ALICE.jid} password ${ALICE.password}`);
    p.type(`/account set ${ALICE.jid} server localhost`);
    p.type(`/account set ${ALICE.jid} port ${s.port('starttls')}`);
    p.type(`/connect ${ALICE.jid}`);
    await p.shows(/logged in successfully/, 'Profanity logged in');
    await until(() => s.t.server.core.sessions.resources(Jid.of('alice', 'localhost')).length > 0, 'alice’s session is bound');
  });
  after(async () => {
    p?.stop();
    await s?.stop();
    if (home) await rm(home, { recursive: true, force: true });
  });

  test('alice creates a room with /join and accepts the defaults; bob joins; they chat in it', opts, async () => {
    requireClient(missing);
    p.type(`/join ${ROOM}`);
    // XEP-0045 §10.1.2: a new room is locked (status 201) until its owner submits a configuration.
    await p.shows(/Room locked, requires configuration/, 'the new room, locked');
    p.type('/room accept');
    await p.shows(/Room unlocked/, 'the room, unlocked by the default configuration');
    const bob = s.bob;
    bob.send(`<presence to='${ROOM}/bob' id='bob-join'><x xmlns='http://jabber.org/protocol/muc'/></presence>`);
    // bob sees alice (owner, moderator), then his own presence with status 110
    await take(bob, /<presence\b[^>]*from=["']lounge@conference\.localhost\/alice["'][\s\S]*?affiliation=["']owner["'][\s\S]*?<\/presence>/);
    await take(bob, /<presence\b[^>]*from=["']lounge@conference\.localhost\/bob["'][\s\S]*?<status code=["']110["']\/>[\s\S]*?<\/presence>/);
    bob.send(`<message to='${ROOM}' type='groupchat' id='g1'><body>hello from bob in the lounge</body></message>`);
    await p.shows(/bob: hello from bob in the lounge/, 'bob’s groupchat message in the room window');
    p.type('hi bob, alice here');
    const got = await nextMessage(bob, /hi bob, alice here/);
    assert.match(got, /from=["']lounge@conference\.localhost\/alice["']/);
    assert.match(got, /type=["']groupchat["']/);
  });

  test('alice generates her OMEMO keys: device list and bundle published and readable by her contact', opts, async () => {
    requireClient(missing);
    p.type('/win 1');
    p.type('/omemo gen');
    // (Profanity 0.13 spells it "crytographic".)
    const screen = await p.shows(/OMEMO crytographic materials generated\. Your Device ID is (\d+)/, 'the keys generated', 60_000);
    const deviceId = /Your Device ID is (\d+)/.exec(screen)![1]!;
    // Profanity publishes its device list with publish-options access_model=open when the server advertises
    // #publish-options: bob, who is not in alice's roster, may read it.
    const bob = s.bob;
    const list = await until(async () => {
      bob.send(`<iq type='get' id='dl${Date.now()}' to='${ALICE.jid}'><pubsub xmlns='http://jabber.org/protocol/pubsub'><items node='${NS_OMEMO_DEVICES}'/></pubsub></iq>`);
      const r = await take(bob, /<iq\b[^>]*id=["']dl\d+["'][\s\S]*?(?:\/>|<\/iq>)/);
      return /<device\b[^>]*id=["'](\d+)["']/.exec(r) ? r : '';
    }, 'alice’s device list on her PEP node', 30_000, 500);
    const published = /<device\b[^>]*id=["'](\d+)["']/.exec(list)![1]!;
    assert.equal(published, deviceId);
    bob.send(`<iq type='get' id='bundle' to='${ALICE.jid}'><pubsub xmlns='http://jabber.org/protocol/pubsub'><items node='eu.siacs.conversations.axolotl.bundles:${published}'/></pubsub></iq>`);
    const bundle = await take(bob, /<iq\b[^>]*id=["']bundle["'][\s\S]*?(?:<\/iq>)/);
    assert.match(bundle, /type=["']result["']/);
    assert.match(bundle, /<signedPreKeyPublic\b/);
    assert.match(bundle, /<identityKey>/);
    assert.match(bundle, /<preKeyPublic\b/);
    // The console window: no "Unknown error while publishing our own device list", no error at all.
    assert.doesNotMatch(p.screen(), /error/i);
  });
});
