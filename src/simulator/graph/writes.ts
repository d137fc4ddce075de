/**
 * The few writes the simulated Graph accepts from clients (the control API covers the rest): `PATCH` a message
 * (`isRead`, `subject`, `importance`, `categories`, `flag`, `body.content`), `POST /messages/{id}/move`
 * `{destinationId}` (201, the message with a new id), and `DELETE` a message, event, contact or drive item. Both change the store, so they emit `SimChange`s and appear in delta like any other change.
 */
import type { SimState } from '../state';
import { badRequest, driveNotFound, outlookNotFound, SimGraphError } from './errors';
import type { MessagePatch } from './mail';
import type { UserData } from './store';

export interface WriteResult {
  status: number;
  body?: Record<string, unknown>;
}

function messageIdOf(data: UserData, rest: string[], state: SimState): string | undefined {
  const head = rest[0]?.toLowerCase();
  if (head === 'messages' && rest.length === 2) return rest[1];
  if (head === 'mailfolders' && rest.length === 4 && rest[2].toLowerCase() === 'messages') {
    const folder = state.graph.store.folder(data.user.id, rest[1]);
    const entry = data.messages.get(rest[3]);
    if (!folder || !entry || entry.scope !== folder.id) throw outlookNotFound();
    return rest[3];
  }
  return undefined;
}

function messagePatch(body: unknown): MessagePatch {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) throw badRequest('The request body must be a JSON object.');
  const patch: MessagePatch = {};
  for (const [key, value] of Object.entries(body as Record<string, unknown>)) {
    const invalid = (): SimGraphError => new SimGraphError(400, 'ErrorInvalidProperty', `The value of property '${key}' is invalid.`);
    switch (key) {
      case 'isRead':
        if (typeof value !== 'boolean') throw invalid();
        patch.isRead = value;
        break;
      case 'subject':
        if (typeof value !== 'string') throw invalid();
        patch.subject = value;
        break;
      case 'importance':
        if (value !== 'low' && value !== 'normal' && value !== 'high') throw invalid();
        patch.importance = value;
        break;
      case 'categories':
        if (!Array.isArray(value) || !value.every((v) => typeof v === 'string')) throw invalid();
        patch.categories = value as string[];
        break;
      case 'flag': {
        const status = (value as { flagStatus?: unknown } | null)?.flagStatus;
        if (status !== 'notFlagged' && status !== 'flagged' && status !== 'complete') throw invalid();
        patch.flag = { flagStatus: status };
        break;
      }
      case 'body': {
        const content = (value as { content?: unknown } | null)?.content;
        if (typeof content !== 'string') throw invalid();
        patch.body = content;
        break;
      }
      default:
        throw new SimGraphError(400, 'ErrorInvalidProperty', `The property '${key}' does not exist on type 'microsoft.graph.message' or cannot be changed.`);
    }
  }
  return patch;
}

/** Handles PATCH/DELETE on an owner's resource path (`rest` after `/me` or `/users/{id}`). */
export function handleWrite(state: SimState, data: UserData, rest: string[], method: string, body: unknown): WriteResult {
  const store = state.graph.store;
  const userId = data.user.id;
  const head = rest[0]?.toLowerCase();
  const messageId = messageIdOf(data, rest, state);
  if (method === 'PATCH' && messageId) {
    if (!data.messages.get(messageId)) throw outlookNotFound();
    const message = store.updateMessage(userId, messageId, messagePatch(body));
    return { status: 200, body: { '@odata.context': `${state.baseUrl}/v1.0/$metadata#users('${userId}')/messages/$entity`, ...message } };
  }
  if (method === 'POST' && head === 'messages' && rest.length === 3 && rest[2].toLowerCase() === 'move') {
    const destinationId = (body as { destinationId?: unknown } | null)?.destinationId;
    if (typeof destinationId !== 'string' || !destinationId) throw new SimGraphError(400, 'ErrorInvalidIdMalformed', 'Id is malformed.');
    if (!data.messages.get(rest[1])) throw outlookNotFound();
    if (!store.folder(userId, destinationId)) throw outlookNotFound();
    const moved = store.moveMessage(userId, rest[1], destinationId);
    return { status: 201, body: { '@odata.context': `${state.baseUrl}/v1.0/$metadata#users('${userId}')/messages/$entity`, ...moved } };
  }
  if (method === 'DELETE') {
    if (messageId) {
      if (!data.messages.get(messageId)) throw outlookNotFound();
      store.deleteMessage(userId, messageId);
      return { status: 204 };
    }
    const eventId = head === 'events' && rest.length === 2 ? rest[1] : head === 'calendar' && rest.length === 3 && rest[1].toLowerCase() === 'events' ? rest[2] : undefined;
    if (eventId) {
      if (!store.findEvent(userId, eventId)) throw outlookNotFound(); // an occurrence of a series too
      store.deleteEvent(userId, eventId);
      return { status: 204 };
    }
    if (head === 'contacts' && rest.length === 2) {
      if (!data.contacts.get(rest[1])) throw outlookNotFound();
      store.deleteContact(userId, rest[1]);
      return { status: 204 };
    }
    if (head === 'drive' && rest.length === 3 && rest[1].toLowerCase() === 'items') {
      if (!data.driveItems.get(rest[2]) || rest[2] === data.rootId) throw driveNotFound();
      store.deleteDriveItem(userId, rest[2]);
      return { status: 204 };
    }
  }
  throw new SimGraphError(405, 'MethodNotAllowed', `The simulated Graph does not support ${method} on '${rest.join('/')}'; change objects through the control API (/_sim).`);
}
