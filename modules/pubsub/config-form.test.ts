// The node configuration forms of the pubsub engine (XEP-0060 §8.2, §7.1.5, §16.4.4) without a server:
// submitted values applied with their checks, publish-options compared with a node's configuration, and the
// form a client is sent.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseXml } from '../../src/sdk.js';
import { applyConfig, checkPreconditions, configForm, formValues, type FormValues } from './engine/config-form.js';
import type { NodeConfig } from './engine/types.js';

const BASE: NodeConfig = {
  title: '', access_model: 'presence', roster_groups_allowed: [], publish_model: 'publishers', max_items: 1, persist_items: true,
  notify_retract: true, notify_delete: true, notify_config: false, deliver_payloads: true, deliver_notifications: true,
  send_last_published_item: 'on_sub_and_presence', notification_type: 'headline', type: '',
};

test('submitted values are applied: booleans (1/true/0/false), lists, "max", multi-values; unknown fields are ignored', () => {
  const c = applyConfig(BASE, {
    'pubsub#access_model': ['open'], 'pubsub#max_items': ['max'], 'pubsub#persist_items': ['false'], 'pubsub#notify_config': ['1'],
    'pubsub#roster_groups_allowed': ['A', 'B'], 'pubsub#title': ['T'], 'urn:example:unknown': ['x'],
  }, 100);
  assert.equal(c.access_model, 'open');
  assert.equal(c.max_items, 100);
  assert.equal(c.persist_items, false);
  assert.equal(c.notify_config, true);
  assert.deepEqual(c.roster_groups_allowed, ['A', 'B']);
  assert.equal(c.title, 'T');
  assert.deepEqual(BASE.roster_groups_allowed, [], 'the base is not changed');
});

test('bad values are not-acceptable, naming the field and what it takes', () => {
  for (const [field, value] of [['pubsub#access_model', 'everyone'], ['pubsub#max_items', '0'], ['pubsub#max_items', '101'], ['pubsub#max_items', 'ten'], ['pubsub#deliver_payloads', 'yes']] as const) {
    assert.throws(() => applyConfig(BASE, { [field]: [value] }, 100), (err: Error & { condition?: string }) => err.condition === 'not-acceptable' && err.message.includes(field));
  }
});

test('publish-options match when every field equals the configuration ("max" included); else conflict + precondition-not-met', () => {
  const c = applyConfig(BASE, { 'pubsub#max_items': ['max'], 'pubsub#access_model': ['open'] }, 100);
  assert.doesNotThrow(() => checkPreconditions(c, { 'pubsub#max_items': ['max'], 'pubsub#access_model': ['open'] }, 100));
  assert.doesNotThrow(() => checkPreconditions(c, { 'pubsub#max_items': ['100'], 'pubsub#persist_items': ['true'] }, 100));
  const wrongs: FormValues[] = [{ 'pubsub#access_model': ['presence'] }, { 'pubsub#max_items': ['5'] }, { 'pubsub#persist_items': ['0'] }, { 'urn:example:unknown': ['x'] }];
  for (const wrong of wrongs) {
    assert.throws(() => checkPreconditions(c, wrong, 100), (err: Error & { condition?: string; appElement?: { name: string } }) => err.condition === 'conflict' && err.appElement?.name === 'precondition-not-met');
  }
});

test('the configuration form round-trips through formValues and applyConfig', () => {
  const c = applyConfig(BASE, { 'pubsub#access_model': ['whitelist'], 'pubsub#max_items': ['7'], 'pubsub#roster_groups_allowed': ['G'] }, 100);
  const form = parseXml(configForm(c).toString());
  assert.equal(form.attrs.type, 'form');
  assert.deepEqual(applyConfig(BASE, formValues(form)!, 100), c);
});
