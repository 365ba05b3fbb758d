// The modules bundled with the server, by name (external ones load from module_paths).
import type { ModuleDefinition } from '../src/sdk.js';
import disco from './disco/index.js';
import ping from './ping/index.js';
import version from './version/index.js';
import time from './time/index.js';
import roster from './roster/index.js';
import presence from './presence/index.js';
import offline from './offline/index.js';
import vcard from './vcard/index.js';
import privateStorage from './private/index.js';
import last from './last/index.js';
import blocking from './blocking/index.js';
import register from './register/index.js';
import adhoc from './adhoc/index.js';
import mam from './mam/index.js';
import carbons from './carbons/index.js';
import csi from './csi/index.js';
import push from './push/index.js';
import streamManagement from './stream_management/index.js';
import caps from './caps/index.js';
import muc from './muc/index.js';
import pep from './pubsub/pep.js';
import pubsub from './pubsub/index.js';
import upload from './upload/index.js';
import bookmarks from './bookmarks/index.js';
import externalServices from './external_services/index.js';

export const BUNDLED_MODULES: Record<string, ModuleDefinition<any, any>> = Object.fromEntries(
  [disco, ping, version, time, roster, presence, offline, vcard, privateStorage, last, blocking, register, adhoc, mam, carbons, csi, push, streamManagement, caps, muc, pep, pubsub, upload, bookmarks, externalServices].map((m) => [m.name, m]),
);
