# slixmpp's XEP-0363 plugin, told its upload service (see main()): upload_file() asks for a slot and PUTs
# the file with aiohttp; the test then fetches the GET URL it reports.
# Usage: upload.py <port> <full-jid> <password> <file>
# Reports: session_start | auth_failed, uploaded (url, service) | upload_error.
import os
import sys

# The shared helpers of the project's slixmpp interop tests, imported in place.
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..', '..', 'test', 'e2e', 'slixmpp'))

from common import TestClient, emit, login, run  # noqa: E402

port, jid, password, path = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]


async def main():
    c = TestClient(jid, password, port, plugins=['xep_0030', 'xep_0128', 'xep_0363'])
    # The plugin's upload_service option, as a user sets it: slixmpp 1.8.3's own discovery
    # (xep_0030.get_info_from_domain) passes coroutines to asyncio.wait, which Python 3.11 refuses
    # ("Passing coroutines is forbidden"), whatever the server. xmppd's discovery of upload.<host> (disco#items,
    # the store/file identity, the max-file-size form) is tested with raw clients in upload.test.ts.
    c['xep_0363'].upload_service = 'upload.' + jid.split('@')[1].split('/')[0]
    if await login(c):
        plugin = c['xep_0363']
        try:
            url = await plugin.upload_file(path, timeout=10)
            emit('uploaded', url=url, service=str(plugin.upload_service))
        except Exception as e:  # noqa: BLE001 - reported to the test
            emit('upload_error', error=repr(e))
    await c.stop()

run(main, 20)
