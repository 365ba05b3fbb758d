// Placeholder until the presence module lands; not enabled in any configuration.
import { defineModule } from '../../src/sdk.js';

export default defineModule({ name: 'presence', start() {} });
