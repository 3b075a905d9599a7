/**
 * The user and group every runner image runs code as (images/PROTOCOL.md). Containers are started
 * as them, and whatever the host writes into a session must be theirs, so that code can change it.
 */
export const SANDBOX_UID = 10001;
export const SANDBOX_GID = 10001;
