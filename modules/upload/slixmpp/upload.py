# slixmpp's XEP-0363 plugin with its defaults: upload_file() finds the upload service in the server's
# disco#items (store/file identity, the feature, max-file-size from the XEP-0128 form), asks for a slot
# and PUTs the file with aiohttp; the test then fetches the GET URL it reports.
# Usage: upload.py <port> <full-jid> <password> <file>
# Reports: session_start | auth_failed, uploaded (url, max_file_size) | upload_error.
import os
import sys

# The shared helpers of the project's slixmpp interop tests, imported in place.
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..', '..', 'test', 'e2e', 'slixmpp'))

import asyncio  # noqa: E402

import slixmpp.plugins.xep_0030.disco as disco_module  # noqa: E402

from common import TestClient, emit, login, run  # noqa: E402

port, jid, password, path = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]


class AsyncioWithTasks:
    """slixmpp 1.8.3's get_info_from_domain (what upload_file uses to find the service) passes coroutines to
    asyncio.wait, which Python 3.11 refuses ("Passing coroutines is forbidden"); later slixmpp releases wrap
    them in tasks. Do the same for that module only, nothing else of the plugin changes."""

    def __getattr__(self, name):
        return getattr(asyncio, name)

    @staticmethod
    async def wait(aws, **kwargs):
        return await asyncio.wait([asyncio.ensure_future(a) for a in aws], **kwargs)


disco_module.asyncio = AsyncioWithTasks()


async def main():
    c = TestClient(jid, password, port, plugins=['xep_0030', 'xep_0128', 'xep_0363'])
    if await login(c):
        plugin = c['xep_0363']
        try:
            url = await plugin.upload_file(path, timeout=10)
            emit('uploaded', url=url, service=str(plugin.upload_service), max_file_size=plugin.max_file_size)
        except Exception as e:  # noqa: BLE001 - reported to the test
            emit('upload_error', error=repr(e))
    await c.stop()

run(main, 20)
