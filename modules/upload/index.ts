// XEP-0363 HTTP File Upload on a subdomain of the host (upload.<host>), served through ctx.serveDomain:
// slot requests over XMPP, the files over the server's http/https listeners (ctx.httpRoute), kept in a
// FileStore (local disk under data_dir/upload/<host>, or a cluster's shared object store) and expired after
// expire_after.
import { join } from 'node:path';
import { defineModule, opt, Jid, NS, StanzaError, xml, type Element, serveIqDomain } from '../../src/sdk.js';
import { DiskStore, type FileStore } from './storage.js';
import { ObjectFileStore } from './object-storage.js';
import { Signer } from './signing.js';
import { Ledger, removeUserOps } from './ledger.js';
import { NS_UPLOAD, requestSlot, type SlotRules } from './slot.js';
import { getHandler, preflight, putHandler, type HttpSide } from './http.js';

const MEDIA_RANGE = /^[a-z0-9!#$&^_.+-]+\/(\*|[a-z0-9!#$&^_.+-]+)$/;

export default defineModule({
  name: 'upload',
  description: 'HTTP File Upload (XEP-0363) on a subdomain, files served by the http/https listeners',
  xeps: ['XEP-0363'],
  optional: ['disco'],
  options: {
    /** The service's domain; @HOST@ stands for the virtual host. */
    host: opt.string('upload.@HOST@'),
    /** Display name in disco#info and the host's disco#items. */
    name: opt.string('HTTP File Upload'),
    /** Public URL the http/https listener is reached at ("https://files.example.org"); "": the first listener's. */
    base_url: opt.string(''),
    /** Access rule (access_rules.<name>) deciding who may upload; "": the accounts of this host. */
    access: opt.string(''),
    /** Largest file in bytes (larger: not-acceptable with <file-too-large/> carrying the limit). */
    max_file_size: opt.number(52_428_800, { min: 1, integer: true }),
    /** Media types accepted ("image/png", "image/*"); empty: any. */
    allowed_types: opt.strings([]),
    /** Bytes of files a user may keep at once (0: no quota). */
    quota: opt.number(1_073_741_824, { min: 0, integer: true }),
    /** Seconds a slot's PUT URL stays valid. */
    put_ttl: opt.number(300, { min: 1, integer: true }),
    /** Seconds after its upload a file is deleted (0: never); GET URLs work until then. */
    expire_after: opt.number(2_592_000, { min: 0, integer: true }),
    /** Seconds between two sweeps for expired files. */
    sweep_interval: opt.number(3600, { min: 1, integer: true }),
  },
  // An account's removal takes its upload rows: its files are no longer served, their bytes go at expiry.
  removeUser: removeUserOps,
  async start(ctx) {
    const o = ctx.options;
    const domain = o.host.replaceAll('@HOST@', ctx.host).toLowerCase();
    const djid = Jid.tryParse(domain);
    if (!djid || djid.local || djid.resource || domain === ctx.host) {
      throw new Error(`modules.upload.host: "${o.host}" must be a domain other than the host, such as upload.@HOST@`);
    }
    let baseUrl: string | null = null;
    if (o.base_url) {
      let u: URL | null = null;
      try {
        u = new URL(o.base_url);
      } catch { /* reported below */ }
      if (!u || (u.protocol !== 'http:' && u.protocol !== 'https:') || u.search || u.hash || u.username) {
        throw new Error(`modules.upload.base_url: "${o.base_url}" must be an http:// or https:// URL without query or fragment, such as https://upload.example.org`);
      }
      baseUrl = u.toString().replace(/\/+$/, '');
    }
    for (const [i, t] of o.allowed_types.entries()) {
      if (!MEDIA_RANGE.test(t)) throw new Error(`modules.upload.allowed_types[${i}]: "${t}" must be a lowercase media type such as image/png or image/*`);
    }
    const prefix = `/upload/${encodeURIComponent(ctx.host)}/`; // as a request path carries it
    // In a cluster the files live in the shared object store `<cluster>_uploads`: any node serves any file.
    const cluster = ctx.cluster;
    const store: FileStore = cluster ? new ObjectFileStore(() => cluster.objectStore('uploads'), ctx.host) : new DiskStore(join(ctx.dataDir, 'upload', ctx.host));
    // Opened now rather than by the first upload (a failure here is retried at first use).
    if (cluster) await cluster.objectStore('uploads').catch((err: unknown) => ctx.log.warn('upload object store not reachable yet', { err }));
    const ledger = new Ledger(ctx);
    const files = ctx.counter({ name: 'xmppd_upload_files_total', help: 'Files uploaded over HTTP File Upload (XEP-0363)', labelNames: ['host'] });
    const bytes = ctx.counter({ name: 'xmppd_upload_bytes_total', help: 'Bytes uploaded over HTTP File Upload (XEP-0363)', labelNames: ['host'] });
    const expired = ctx.counter({ name: 'xmppd_upload_expired_total', help: 'Uploaded files deleted by expiry', labelNames: ['host'] });
    const signer = await Signer.load(ctx);
    const side: HttpSide = {
      store, signer, ledger, allowedTypes: o.allowed_types, quota: o.quota, expireAfter: o.expire_after,
      // A link shared right after its upload on another node: wait until this node has the upload's rows.
      ...(cluster && { catchUp: () => ctx.store.barrier() }),
      uploaded(n) {
        files.inc({ host: ctx.host });
        bytes.inc({ host: ctx.host }, n);
      },
    };
    const rules: SlotRules = {
      mayUpload: (from) => (o.access === '' ? !!from.local && from.domain === ctx.host : ctx.allowed(o.access, { jid: from })),
      maxFileSize: o.max_file_size,
      allowedTypes: o.allowed_types,
      quota: o.quota,
      putTtl: o.put_ttl,
      prefixUrl: () => {
        const base = baseUrl ?? ctx.httpBaseUrl();
        return base === null ? null : `${base}${prefix}`;
      },
    };

    const discoInfo = (): Element => xml('query', { xmlns: NS.DISCO_INFO },
      xml('identity', { category: 'store', type: 'file', name: o.name }),
      ...[NS.DISCO_INFO, NS.DISCO_ITEMS, NS_UPLOAD].map((f) => xml('feature', { var: f })),
      // XEP-0128 extended info: clients learn the limit before asking (XEP-0363 §3)
      xml('x', { xmlns: 'jabber:x:data', type: 'result' },
        xml('field', { var: 'FORM_TYPE', type: 'hidden' }, xml('value', {}, NS_UPLOAD)),
        xml('field', { var: 'max-file-size' }, xml('value', {}, String(o.max_file_size)))));

    const handleIq = async (el: Element, from: Jid, to: Jid): Promise<Element | null> => {
      if (to.local || to.resource) throw new StanzaError('service-unavailable');
      const payload = el.getChildElements();
      if (payload.length !== 1) throw new StanzaError('bad-request', 'an IQ request has exactly one payload');
      const p = payload[0]!;
      const ns = p.attrs.xmlns as string | undefined;
      if (el.attrs.type === 'get' && ns === NS.DISCO_INFO && !p.attrs.node) return discoInfo();
      if (el.attrs.type === 'get' && ns === NS.DISCO_ITEMS && !p.attrs.node) return xml('query', { xmlns: NS.DISCO_ITEMS });
      if (el.attrs.type === 'get' && ns === NS_UPLOAD && p.name === 'request') return requestSlot(p, from, rules, signer, ledger);
      throw new StanzaError('service-unavailable');
    };

    // The service answers IQs only, and the host's disco#items lists it.
    serveIqDomain(ctx, domain, o.name, handleIq);

    const get = getHandler(side);
    ctx.httpRoute('GET', prefix, get);
    ctx.httpRoute('HEAD', prefix, get);
    ctx.httpRoute('PUT', prefix, putHandler(ctx, side));
    ctx.httpRoute('OPTIONS', prefix, preflight);

    // Expiry: files older than expire_after go, with their rows and their share of the owner's quota.
    if (o.expire_after > 0) {
      let stopped = false;
      let sweeping: Promise<void> | null = null;
      const sweep = async () => {
        for (const id of await store.listExpired(Date.now() - o.expire_after * 1000)) {
          if (stopped) return;
          await ledger.remove(id);
          await store.delete(id);
          expired.inc({ host: ctx.host });
        }
      };
      const run = () => {
        sweeping ??= sweep().catch((err) => ctx.log.error('upload expiry sweep failed', { err })).finally(() => (sweeping = null));
      };
      ctx.setInterval(run, o.sweep_interval * 1000);
      ctx.onStop(async () => {
        stopped = true;
        await sweeping;
      });
      run();
    }
  },
});
