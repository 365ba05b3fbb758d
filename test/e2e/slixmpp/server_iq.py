# slixmpp asks the server itself through its plugins: disco#info (XEP-0030), ping (XEP-0199),
# software version (XEP-0092) and entity time (XEP-0202), and reports each answer. Usage:
#   server_iq.py <port> <full-jid> <password>
import sys
from xml.etree.ElementTree import Element

from common import TestClient, emit, iq_error, login, run

port, jid, password = int(sys.argv[1]), sys.argv[2], sys.argv[3]


async def main():
    c = TestClient(jid, password, port,
                   plugins=['xep_0030', 'xep_0199', 'xep_0092', 'xep_0202'])
    if not await login(c):
        return
    server = c.boundjid.domain

    info = await c['xep_0030'].get_info(jid=server, local=False, cached=False, timeout=5)
    emit('disco_info', sender=str(info['from']), type=info['type'],
         features=sorted(info['disco_info']['features']),
         identities=[list(i) for i in info['disco_info']['identities']])

    rtt = await c['xep_0199'].ping(server, timeout=5)
    emit('ping', ok=isinstance(rtt, float), rtt=rtt)

    v = await c['xep_0092'].get_version(server, timeout=5)
    emit('version', sender=str(v['from']), type=v['type'], name=v['software_version']['name'],
         version=v['software_version']['version'], os=v['software_version']['os'])

    t = await c['xep_0202'].get_entity_time(server, timeout=5)
    emit('time', sender=str(t['from']), type=t['type'], tzo=t['entity_time'].xml.findtext('{urn:xmpp:time}tzo'),
         utc=t['entity_time'].xml.findtext('{urn:xmpp:time}utc'))

    # A namespace nobody serves: slixmpp raises IqError carrying the server's stanza error.
    bad = c.make_iq_get(ito=server)
    bad.append(Element('{urn:example:nothing}query'))
    try:
        await bad.send(timeout=5)
        emit('unknown_ns', error=None)
    except Exception as e:  # noqa: BLE001
        emit('unknown_ns', **iq_error(e))
    await c.stop()

run(main, 20)
