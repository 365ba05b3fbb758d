# slixmpp (Debian python3-slixmpp 1.8.3) with its default settings: alice logs in, sends bob a chat message,
# prints the answer she gets and disconnects. JSON lines on stdout (see test/support/slixmpp.ts).
# Usage: slixmpp_alice.py <port> <starttls|direct> <ca-file> <jid> <password> <peer> <body>
import asyncio
import json
import ssl
import sys

import slixmpp

port, mode, ca_file, jid, password, peer, body = sys.argv[1:8]


def emit(event, **fields):
    print(json.dumps({'event': event, **fields}, default=str), flush=True)


class Alice(slixmpp.ClientXMPP):
    def __init__(self):
        super().__init__(jid, password)
        # Option a user sets too: the server's certificate comes from a private CA (slixmpp's ca_certs).
        self.ca_certs = ca_file
        self.done = asyncio.get_event_loop().create_future()
        self.add_event_handler('session_start', self.on_start)
        self.add_event_handler('message', self.on_message)
        self.add_event_handler('failed_auth', lambda f: emit('failed_auth', condition=f['condition'], text=f['text']))
        self.add_event_handler('failed_all_auth', lambda _: self.finish('failed_all_auth'))
        self.add_event_handler('disconnected', lambda _: self.finish('disconnected'))

    def finish(self, why):
        if not self.done.done():
            self.done.set_result(why)

    async def on_start(self, _):
        sock = self.socket
        mech = self['feature_mechanisms'].mech
        emit('session_start', jid=str(self.boundjid), mech=mech.name if mech else None,
             tls=sock.version() if isinstance(sock, (ssl.SSLSocket, ssl.SSLObject)) else None)
        self.send_presence()
        self.send_message(mto=peer, mbody=body, mtype='chat')

    def on_message(self, msg):
        if msg['body']:
            emit('message', sender=str(msg['from']), type=msg['type'], body=msg['body'])
            self.finish('message')


async def main():
    alice = Alice()
    # Options a user sets too: the server's address when its domain is not in DNS (connect(address));
    # use_ssl=True is slixmpp 1.8.3's spelling of XEP-0368 direct TLS on that port.
    alice.connect(('127.0.0.1', int(port)), use_ssl=mode == 'direct')
    why = await asyncio.wait_for(alice.done, 20)
    emit('end', why=why)
    if why == 'message':
        await alice.disconnect(wait=1)

asyncio.run(main())
emit('done')
