# OMEMO key publication over PEP with stock slixmpp (xep_0060, xep_0163 with its xep_0115 caps, defaults):
# bob declares interest in the device list (+notify in his caps), alice publishes her device list and a
# bundle with publish-options access_model=open, bob is notified of the list and fetches the bundle by item
# id; publishing with other options is refused (precondition-not-met).
# Usage: pep_omemo.py <port> <alice-full-jid> <alice-password> <bob-full-jid> <bob-password>
import asyncio
import sys
import xml.etree.ElementTree as ET

from common import TestClient, emit, iq_error, login, run

port = int(sys.argv[1])
alice_jid, alice_pw, bob_jid, bob_pw = sys.argv[2:6]
NS = 'eu.siacs.conversations.axolotl'
DEVICELIST = NS + '.devicelist'
BUNDLE = NS + '.bundles:31415'


def options(client, access_model):
    form = client['xep_0004'].make_form(ftype='submit')
    form.add_field(var='FORM_TYPE', ftype='hidden', value='http://jabber.org/protocol/pubsub#publish-options')
    form.add_field(var='pubsub#access_model', value=access_model)
    return form


async def main():
    bob = TestClient(bob_jid, bob_pw, port, plugins=['xep_0060', 'xep_0163'])
    alice = TestClient(alice_jid, alice_pw, port, plugins=['xep_0060', 'xep_0163'])
    events = asyncio.Queue()
    bob.add_event_handler('pubsub_publish', lambda m: events.put_nowait(m))
    bob['xep_0163'].add_interest(DEVICELIST)
    if not (await login(bob) and await login(alice)):
        return
    bob.send_presence()
    alice.send_presence()


    devices = ET.fromstring(f"<list xmlns='{NS}'><device id='31415'/><device id='27182'/></list>")
    r = await alice['xep_0060'].publish(None, DEVICELIST, id='current', payload=devices, options=options(alice, 'open'), timeout=5)
    emit('devicelist_published', id=r['pubsub']['publish']['item']['id'])
    bundle = ET.fromstring(
        f"<bundle xmlns='{NS}'><signedPreKeyPublic signedPreKeyId='1'>BASE64KEY</signedPreKeyPublic>"
        f"<signedPreKeySignature>SIG</signedPreKeySignature><identityKey>IDKEY</identityKey>"
        f"<prekeys><preKeyPublic preKeyId='1'>PK1</preKeyPublic></prekeys></bundle>")
    await alice['xep_0060'].publish(None, BUNDLE, id='current', payload=bundle, options=options(alice, 'open'), timeout=5)

    while True:
        m = await asyncio.wait_for(events.get(), 10)
        items = m['pubsub_event']['items']
        if items['node'] == DEVICELIST:
            break
    item = items['substanzas'][0]
    ids = [d.get('id') for d in item['payload'].findall('{%s}device' % NS)]
    emit('bob_notified', sender=str(m['from']), node=items['node'], item=item['id'], devices=ids)

    got = await bob['xep_0060'].get_item(alice.boundjid.bare, BUNDLE, 'current', timeout=5)
    it = got['pubsub']['items']['substanzas'][0]
    spk = it['payload'].find('{%s}signedPreKeyPublic' % NS)
    emit('bundle_fetched', item=it['id'], signedPreKeyPublic=spk.text if spk is not None else None)

    try:
        await alice['xep_0060'].publish(None, DEVICELIST, id='current', payload=devices, options=options(alice, 'presence'), timeout=5)
        emit('republish', error=None)
    except Exception as e:  # noqa: BLE001
        app = e.iq.xml.find('{jabber:client}error/{http://jabber.org/protocol/pubsub#errors}precondition-not-met') if hasattr(e, 'iq') else None
        emit('republish', precondition_not_met=app is not None, **iq_error(e))

    await asyncio.gather(alice.stop(), bob.stop())

run(main, 20)
