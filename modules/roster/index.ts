// Placeholder until the roster module lands; not enabled in any configuration.
import { defineModule } from '../../src/sdk.js';

export default defineModule({ name: 'roster', start() {} });
