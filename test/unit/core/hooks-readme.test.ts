// hooks/README.md is generated from the catalogue; this fails when someone changes one without the other.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { renderHooksReadme } from '../../../hooks/readme.js';
import { CORE_HOOKS } from '../../../hooks/index.js';

test('hooks/README.md matches the catalogue (regenerate with npm run hooks:readme)', () => {
  const onDisk = readFileSync(new URL('../../../../hooks/README.md', import.meta.url), 'utf8');
  assert.equal(onDisk, renderHooksReadme());
  for (const name of ['filter_packet', 'user_send_packet', 'user_receive_packet', 'c2s_stream_features', 'session_opened', 'session_closed', 'disco_info']) {
    assert.ok(name in CORE_HOOKS, `${name} is in the catalogue`);
  }
});

test('every core hook says whether it is server-wide or which host a firing concerns', () => {
  for (const [name, spec] of Object.entries(CORE_HOOKS)) {
    assert.ok(spec.scope === 'global' || (spec.host ?? '').length > 0, `${name}: set scope 'global' or document host`);
  }
});
