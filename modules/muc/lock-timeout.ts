// A reserved room nobody configures (XEP-0045 §10.1.3, still locked) is destroyed after lock_timeout seconds,
// as Prosody's muc_room_lock_timeout: a creator cannot hold room names by joining and walking away.
import type { Room } from './room.js';
import type { MucService } from './service.js';
import { destroyRoom } from './owner.js';

export function expireIfStillLocked(svc: MucService, room: Room): void {
  const seconds = svc.options.lock_timeout;
  if (!seconds || !room.locked) return;
  svc.ctx.setTimeout(() => {
    void svc.ctx.lock(`room:${room.name}`, async () => {
      // Configured meanwhile, or gone (its creator left, or it was destroyed and perhaps made again).
      if (!room.locked || svc.rooms.get(room.name) !== room) return;
      await destroyRoom(svc, room, undefined, 'the room was not configured in time');
    }).catch((err: unknown) => svc.ctx.log.error('muc lock timeout failed', { err, room: room.jid.toString() }));
  }, seconds * 1000);
}
