// XEP-0045 §15.6 status codes, by meaning (the numbers are what clients key on).
export const STATUS = {
  NON_ANONYMOUS: 100, // entering a room where every occupant sees real JIDs
  CONFIG_CHANGED: 104, // a non-privacy configuration change
  SELF: 110, // this presence is about you
  LOGGING: 170, // the room is logged (on join, or logging enabled)
  LOGGING_OFF: 171,
  NOW_NON_ANONYMOUS: 172,
  NOW_SEMI_ANONYMOUS: 173,
  CREATED: 201, // a new room was created
  NICK_MODIFIED: 210, // the service assigned or changed the nick
  BANNED: 301,
  NICK_CHANGED: 303,
  KICKED: 307,
  AFFILIATION_CHANGE: 321, // removed: affiliation change in a members-only room
  MEMBERS_ONLY: 322, // removed: the room became members-only
  SHUTDOWN: 332,
  ERROR_KICK: 333, // removed because the occupant's client answered with an error
} as const;
