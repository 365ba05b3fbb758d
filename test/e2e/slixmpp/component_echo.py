# An XEP-0114 external component written with slixmpp's ComponentXMPP, driven by test/e2e/component.test.ts.
# It connects to 127.0.0.1:<port> (no DNS), performs the handshake with <secret>, answers disco#info itself
# (xep_0030: identity gateway/echo), and echoes every chat message back ("echo: <body>") from the address it
# was sent to. A message whose body is "quit" makes it disconnect and exit.
# Usage: component_echo.py <port> <component-domain> <secret> [seconds]
# Prints JSON lines: handshake_ok | stream_error{condition} | disconnected, received{from,to,body}, done.
import asyncio
import sys

from slixmpp.componentxmpp import ComponentXMPP

from common import emit, first_event, run

port = int(sys.argv[1])
domain, secret = sys.argv[2], sys.argv[3]
seconds = int(sys.argv[4]) if len(sys.argv) > 4 else 20


class EchoComponent(ComponentXMPP):
    def __init__(self):
        super().__init__(domain, secret, '127.0.0.1', port)
        self.whitespace_keepalive = False
        self.register_plugin('xep_0030')
        self.quit = asyncio.Event()
        self.add_event_handler('message', self.on_message)
        self.add_event_handler('stream_error', lambda e: emit('stream_error', condition=e['condition'], text=e['text']))

    async def get_dns_records(self, domain, port=None):
        # Never resolve anything: the only address is the test server's loopback listener.
        return [(domain, '127.0.0.1', port or self.server_port)]

    def on_message(self, msg):
        emit('received', **{'from': str(msg['from']), 'to': str(msg['to']), 'type': msg['type'], 'body': msg['body']})
        if msg['body'] == 'quit':
            self.quit.set()
            return
        # reply() answers from the address the message was sent to (user@component or the component itself)
        msg.reply('echo: %s' % msg['body']).send()


async def main():
    c = EchoComponent()
    # disco#info of the component is answered by slixmpp itself (XEP-0030 static node handlers)
    await c['xep_0030'].add_identity(category='gateway', itype='echo', name='Echo gateway', jid=c.boundjid)
    await c['xep_0030'].add_feature('urn:xmpp:echo:test', jid=c.boundjid)
    c.connect()
    name, data = await first_event(c, ['session_start', 'stream_error', 'disconnected'], 10)
    if name != 'session_start':
        if name == 'stream_error':
            # the stream_error handler above already reported the condition; wait for the close
            try:
                await first_event(c, ['disconnected'], 5)
            except asyncio.TimeoutError:
                pass
        emit('disconnected')
        return
    emit('handshake_ok', jid=str(c.boundjid))
    try:
        await asyncio.wait_for(c.quit.wait(), seconds)
    except asyncio.TimeoutError:
        emit('no_quit')
    await c.disconnect(wait=1)

run(main, 25)
