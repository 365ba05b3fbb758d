// word-filter: an example third-party xmppd module. A filter_packet handler masks configured words in
// message bodies, or (mode: reject) drops the message and answers its sender with a policy-violation
// stanza error (RFC 6120 §8.3.3.12). Imports only the public surface, xmppd/sdk.
import { cloneElement, defineModule, DROP, errorReply, opt, StanzaError } from 'xmppd/sdk';

/** A word as a literal in a regular expression. */
const escape = (word: string) => word.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/**
 * One case-insensitive expression for all the words, matching whole words only ("darn" but not
 * "darning"); letters and digits of any script count as word characters, unlike \b.
 */
function wordPattern(words: string[]): RegExp {
  const alternatives = [...words].sort((a, b) => b.length - a.length).map(escape).join('|');
  return new RegExp(`(?<![\\p{L}\\p{N}_])(?:${alternatives})(?![\\p{L}\\p{N}_])`, 'giu');
}

export default defineModule({
  name: 'word-filter',
  description: 'Masks configured words in message bodies, or refuses such messages',
  options: {
    /** The words to filter (whole words, any case). */
    words: opt.strings([]),
    /** What a filtered word is replaced with in mask mode. */
    replacement: opt.string('***'),
    /** mask: deliver the message with the words replaced; reject: drop it and bounce policy-violation. */
    mode: opt.oneOf(['mask', 'reject'], 'mask'),
  },
  start(ctx) {
    const { replacement, mode } = ctx.options;
    const words = ctx.options.words.map((w) => w.trim()).filter((w) => w !== '');
    if (words.length === 0) {
      // Register nothing at all: a hook without handlers costs nothing on the stanza path.
      ctx.log.warn('no words configured; the filter does nothing');
      return;
    }
    const pattern = wordPattern(words);
    const mask = (text: string) => text.replace(pattern, () => replacement);
    // One counter for every host the module runs on, so label it with the host.
    const filtered = ctx.counter({
      name: 'word_filter_messages_total',
      help: 'Messages whose body contained a filtered word, by action taken',
      labelNames: ['host', 'action'],
    });

    ctx.hook('filter_packet', (el, { from, to }) => {
      if (el.name !== 'message') return; // presence and IQs pass untouched (and cheaply)
      // ctx.hook registers for this instance's host: it sees the stanzas whose local party is on it.
      const bodies = el.getChildren('body');
      if (!bodies.some((b) => mask(b.getText()) !== b.getText())) return; // nothing to filter: unchanged

      // Never answer an error with an error (RFC 6120 §8.3.1): error stanzas are masked, not bounced.
      if (mode === 'reject' && el.attrs.type !== 'error') {
        filtered.inc({ host: ctx.host, action: 'rejected' });
        ctx.log.info('message refused', { from: from.toString(), to: to.toString() }); // never the body
        const reply = errorReply(el, new StanzaError('policy-violation', 'the message contains a word this server does not allow'), to.toString());
        reply.attrs.to = from.toString();
        ctx.send(reply, to, from); // routed like any stanza, so its echoed body is masked on the way
        return DROP;
      }
      // Return a modified copy rather than editing the stanza in place: other code may hold `el`.
      const copy = cloneElement(el);
      for (const body of copy.getChildren('body')) body.children = [mask(body.getText())];
      filtered.inc({ host: ctx.host, action: 'masked' });
      return copy;
    });
    ctx.log.info('word filter active', { words: words.length, mode });
  },
});
