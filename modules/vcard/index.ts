// Placeholder until the vcard module lands; not enabled in any configuration.
import { defineModule } from '../../src/sdk.js';

export default defineModule({ name: 'vcard', start() {} });
