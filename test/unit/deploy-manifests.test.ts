// The deployment files parse and say what they must: the Kubernetes manifests (3 NATS with JetStream, N xmppd
// with probes on /healthz and /readyz, the node name from the pod name, a TCP load balancer on 5222/5223/5269),
// the configuration they give xmppd validates, and the Dockerfile is multi-stage, non-root, with a health check.
// (No cluster or docker daemon here: structure and configuration are checked, not a deployment.)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';
import { loadConfigFile } from '../../src/core/config/load-config.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const K8S = join(ROOT, 'deploy', 'kubernetes');
type Doc = Record<string, any>;

function manifests(): Doc[] {
  const out: Doc[] = [];
  for (const f of readdirSync(K8S).filter((n) => n.endsWith('.yaml'))) {
    for (const d of parseAllDocuments(readFileSync(join(K8S, f), 'utf8'))) {
      assert.deepEqual(d.errors.map((e) => e.message), [], `${f}: YAML errors`);
      assert.deepEqual(d.warnings.map((e) => e.message), [], `${f}: YAML warnings`);
      const obj = d.toJS() as Doc;
      assert.ok(obj.apiVersion && obj.kind && obj.metadata?.name, `${f}: every document has apiVersion, kind and metadata.name`);
      out.push({ ...obj, file: f });
    }
  }
  return out;
}

const find = (docs: Doc[], kind: string, name: string): Doc => {
  const d = docs.find((x) => x.kind === kind && x.metadata.name === name);
  assert.ok(d, `${kind}/${name} is defined`);
  return d!;
};

/** A selector matches the pods' labels (each of its labels is on them). */
function selects(selector: Record<string, string>, labels: Record<string, string>): void {
  assert.ok(Object.keys(selector).length > 0);
  for (const [k, v] of Object.entries(selector)) assert.equal(labels[k], v, `label ${k}`);
}

test('NATS: 3 JetStream servers in a StatefulSet, routed to each other through the headless service', () => {
  const docs = manifests();
  const sts = find(docs, 'StatefulSet', 'nats');
  assert.equal(sts.spec.replicas, 3);
  assert.equal(sts.spec.serviceName, 'nats');
  selects(sts.spec.selector.matchLabels, sts.spec.template.metadata.labels);
  const conf = find(docs, 'ConfigMap', 'nats-config').data['nats.conf'] as string;
  assert.match(conf, /jetstream \{[\s\S]*store_dir: \/data\/jetstream/);
  for (const i of [0, 1, 2]) assert.match(conf, new RegExp(`nats://nats-${i}\\.nats:6222`));
  assert.match(conf, /server_name: \$POD_NAME/);
  assert.match(conf, /pid_file: \/var\/run\/nats\/nats\.pid/, 'the lame-duck preStop signal finds the pid file');
  const svc = find(docs, 'Service', 'nats');
  assert.equal(svc.spec.clusterIP, 'None');
  assert.deepEqual(svc.spec.ports.map((p: Doc) => p.port).sort(), [4222, 6222, 8222]);
  const c = sts.spec.template.spec.containers[0];
  assert.ok(c.volumeMounts.some((m: Doc) => m.mountPath === '/data' && m.name === sts.spec.volumeClaimTemplates[0].metadata.name));
});

test('xmppd: a StatefulSet with the pod name as node name, probes on /readyz and /healthz, a grace period for the drain', () => {
  const docs = manifests();
  const sts = find(docs, 'StatefulSet', 'xmppd');
  assert.ok(sts.spec.replicas >= 2);
  selects(sts.spec.selector.matchLabels, sts.spec.template.metadata.labels);
  const pod = sts.spec.template.spec;
  assert.ok(pod.terminationGracePeriodSeconds >= 30, 'the drain has time');
  assert.equal(pod.securityContext.runAsNonRoot, true);
  const c = pod.containers[0];
  const env = Object.fromEntries(c.env.map((e: Doc) => [e.name, e]));
  assert.deepEqual(env.POD_NAME.valueFrom, { fieldRef: { fieldPath: 'metadata.name' } });
  assert.equal(env.XMPPD_CLUSTER__NODE.value, '$(POD_NAME)');
  assert.equal(c.readinessProbe.httpGet.path, '/readyz');
  assert.equal(c.livenessProbe.httpGet.path, '/healthz');
  const httpPort = c.ports.find((p: Doc) => p.name === c.readinessProbe.httpGet.port);
  assert.equal(httpPort?.containerPort, 5280);
  // every mounted volume exists, and the config map holds the file XMPPD_CONFIG names
  const volumes = new Set([...pod.volumes.map((v: Doc) => v.name), ...sts.spec.volumeClaimTemplates.map((v: Doc) => v.metadata.name)]);
  for (const m of c.volumeMounts) assert.ok(volumes.has(m.name), `volume ${m.name}`);
  assert.equal(env.XMPPD_CONFIG.value, '/etc/xmppd/xmppd.yaml');
  const secret = find(docs, 'Secret', env.XMPPD_S2S__DIALBACK_SECRET.valueFrom.secretKeyRef.name);
  assert.ok(secret.stringData[env.XMPPD_S2S__DIALBACK_SECRET.valueFrom.secretKeyRef.key]);

  const lb = find(docs, 'Service', 'xmppd-public');
  assert.equal(lb.spec.type, 'LoadBalancer');
  assert.deepEqual(lb.spec.ports.map((p: Doc) => [p.port, p.protocol]), [[5222, 'TCP'], [5223, 'TCP'], [5269, 'TCP']]);
  selects(lb.spec.selector, sts.spec.template.metadata.labels);
  assert.equal(find(docs, 'Service', sts.spec.serviceName).spec.clusterIP, 'None');
});

test('the configuration the manifest gives xmppd validates, with the environment the pod sets', () => {
  const docs = manifests();
  const dir = mkdtempSync(join(tmpdir(), 'xmppd-k8s-'));
  try {
    const file = join(dir, 'xmppd.yaml');
    writeFileSync(file, find(docs, 'ConfigMap', 'xmppd-config').data['xmppd.yaml']);
    const c = loadConfigFile(file, { XMPPD_CLUSTER__NODE: 'xmppd-1', XMPPD_S2S__DIALBACK_SECRET: 'a-long-random-dialback-secret' });
    assert.equal(c.cluster?.node, 'xmppd-1');
    assert.equal(c.cluster?.replicas, 3);
    assert.deepEqual(c.cluster?.nats, ['nats://nats-0.nats:4222', 'nats://nats-1.nats:4222', 'nats://nats-2.nats:4222']);
    assert.ok(c.cluster?.see_other_host);
    assert.ok(c.listen.some((l) => l.type === 'http' && l.port === 5280), 'the probes have their listener');
    assert.equal(c.s2s.dialback_secret, 'a-long-random-dialback-secret');
    // the image's own configuration too
    const image = loadConfigFile(join(ROOT, 'deploy', 'container.yaml'), {});
    assert.ok(image.listen.some((l) => l.type === 'http' && l.port === 5280), 'the HEALTHCHECK has its listener');
    assert.equal(image.data_dir, '/var/lib/xmppd');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('Dockerfile: multi-stage from node:20-slim, non-root, a data volume, the XMPP ports, a health check on /healthz', () => {
  const text = readFileSync(join(ROOT, 'Dockerfile'), 'utf8');
  const lines = text.split('\n').filter((l) => l.trim() && !l.trimStart().startsWith('#'));
  const froms = lines.filter((l) => l.startsWith('FROM '));
  assert.ok(froms.length >= 2, 'multi-stage');
  assert.equal(froms.at(-1), 'FROM node:20-slim', 'the runtime stage');
  assert.match(text, /RUN npm ci/);
  const user = lines.filter((l) => l.startsWith('USER '));
  assert.ok(user.length && user.at(-1) !== 'USER root', 'runs as a non-root user');
  assert.match(text, /^VOLUME \["\/var\/lib\/xmppd"\]$/m);
  const exposed = lines.find((l) => l.startsWith('EXPOSE '))!.split(/\s+/).slice(1).map(Number);
  for (const p of [5222, 5223, 5269, 5280]) assert.ok(exposed.includes(p), `EXPOSE ${p}`);
  assert.match(text, /HEALTHCHECK [\s\S]*\/healthz/);
  assert.match(text, /^ENTRYPOINT \["node", "\/opt\/xmppd\/bin\/xmppd\.js"\]$/m);
  // every local source a COPY names exists in the repository
  for (const l of lines.filter((x) => x.startsWith('COPY ') && !x.includes('--from='))) {
    const parts = l.split(/\s+/).slice(1).filter((p) => !p.startsWith('--'));
    for (const src of parts.slice(0, -1)) assert.ok(existsSync(join(ROOT, src)), `COPY source ${src} exists`);
  }
  // the config the image ships sets what the runtime stage relies on
  assert.match(text, /COPY deploy\/container\.yaml \/etc\/xmppd\/xmppd\.yaml/);
  assert.match(text, /XMPPD_CONFIG=\/etc\/xmppd\/xmppd\.yaml/);
});
