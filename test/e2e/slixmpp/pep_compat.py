# slixmpp with its stock plugins against the server's PEP conversions: XEP-0048 bookmarks stored the
# plugin's default way (xep_0049 private XML) and through PEP (storage_method xep_0223) read back as XEP-0402
# items, and an XEP-0084 avatar (xep_0084 publish_avatar + publish_avatar_metadata) read back as the vCard
# PHOTO (xep_0054). Usage: pep_compat.py <port> <full-jid> <password> <png-file>
import asyncio
import hashlib
import sys

from slixmpp.plugins.xep_0048 import Bookmarks

from common import TestClient, emit, login, run

port, jid, password, png_file = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
NATIVE = 'urn:xmpp:bookmarks:1'


async def native_items(c):
    """The account's XEP-0402 items as {id: {name, autojoin, nick}}."""
    iq = await c['xep_0060'].get_items(c.boundjid.bare, NATIVE, timeout=5)
    out = {}
    for item in iq['pubsub']['items']:
        conf = item.xml.find('{%s}conference' % NATIVE)
        nick = conf.find('{%s}nick' % NATIVE) if conf is not None else None
        out[item['id']] = {'name': conf.get('name') if conf is not None else None,
                           'autojoin': conf.get('autojoin') if conf is not None else None,
                           'nick': nick.text if nick is not None else None}
    return out


async def until(fn, what, timeout=8):
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        v = await fn()
        if v:
            return v
        if asyncio.get_running_loop().time() > deadline:
            raise TimeoutError('waited for ' + what)
        await asyncio.sleep(0.05)


async def main():
    c = TestClient(jid, password, port, plugins=['xep_0030', 'xep_0048', 'xep_0060', 'xep_0084', 'xep_0054'])
    if not await login(c):
        return
    domain = c.boundjid.domain

    # XEP-0048 the plugin's default way: private XML storage (storage_method 'xep_0049').
    b = Bookmarks()
    b.add_conference('lobby@conference.' + domain, 'slix', name='Lobby', autojoin=True)
    b.add_url('https://example.org/', name='Site')
    await c['xep_0048'].set_bookmarks(b, timeout=5)
    emit('native_after_private', items=await native_items(c))
    got = await c['xep_0048'].get_bookmarks(timeout=5)
    stored = got['private']['bookmarks']
    emit('private_read', conferences=[{'jid': str(x['jid']), 'name': x['name'], 'nick': x['nick'], 'autojoin': x['autojoin']} for x in stored['conferences']],
         urls=[x['url'] for x in stored['urls']])

    # XEP-0048 v1.1 through PEP (the plugin's xep_0223 method): a new list replaces the old one.
    b2 = Bookmarks()
    b2.add_conference('cellar@conference.' + domain, 'slix2', name='Cellar')
    await c['xep_0048'].set_bookmarks(b2, method='xep_0223', timeout=5)
    async def moved():
        items = await native_items(c)
        return items if list(items) == ['cellar@conference.' + domain] else None
    emit('native_after_pep', items=await until(moved, 'the PEP list to become the XEP-0402 items'))

    # XEP-0084 avatar published with the plugin, read back as the vCard PHOTO.
    with open(png_file, 'rb') as f:
        image = f.read()
    avatar_id = c['xep_0084'].generate_id(image)
    await c['xep_0084'].publish_avatar(image, timeout=5)
    await c['xep_0084'].publish_avatar_metadata({'id': avatar_id, 'type': 'image/png', 'bytes': len(image)}, timeout=5)
    async def photo():
        iq = await c['xep_0054'].get_vcard(c.boundjid.bare, timeout=5)
        binval = iq['vcard_temp']['PHOTO']['BINVAL']
        return binval or None
    binval = await until(photo, 'the vCard to carry the avatar')
    emit('vcard_photo', avatar_id=avatar_id, photo_sha1=hashlib.sha1(binval).hexdigest())
    await c.stop()

run(main, 22)
