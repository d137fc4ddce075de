/**
 * Simulated Outlook mail: well-known mail folders and message objects in Graph's `message` shape
 * (`@odata.etag` W/"changeKey", changeKey renewed on every update, timestamps from the simulator clock in whole
 * seconds as "Get message" shows them).
 */
import type { EmailAddress, Message, Recipient } from '@microsoft/microsoft-graph-types';
import { changeKey, guid } from './ids';
import { wholeSecondIso } from './timestamps';

/** Well-known folder names (`mailFolders('Inbox')` is case-insensitive) and their display names. */
export const WELL_KNOWN_FOLDERS: ReadonlyArray<{ name: string; displayName: string }> = [
  { name: 'inbox', displayName: 'Inbox' },
  { name: 'drafts', displayName: 'Drafts' },
  { name: 'sentitems', displayName: 'Sent Items' },
  { name: 'deleteditems', displayName: 'Deleted Items' },
];

export interface SimMailFolder {
  id: string;
  wellKnownName: string;
  displayName: string;
  parentFolderId: string;
}

/** What the control API accepts to create a message (every field optional). */
export interface MessageInput {
  subject?: string;
  body?: string;
  bodyContentType?: 'text' | 'html';
  /** Sender address (or `Name <address>`). */
  from?: string;
  to?: string[];
  cc?: string[];
  isRead?: boolean;
  isDraft?: boolean;
  importance?: 'low' | 'normal' | 'high';
  categories?: string[];
  /** ISO time; default now. Also `sentDateTime` (default: received time). */
  receivedDateTime?: string;
  sentDateTime?: string;
  /** Well-known name or folder id; default inbox. */
  folder?: string;
}

/** Fields a PATCH may change. */
export type MessagePatch = Partial<Pick<MessageInput, 'subject' | 'body' | 'isRead' | 'importance' | 'categories'>> & {
  flag?: { flagStatus: 'notFlagged' | 'flagged' | 'complete' };
};

export type SimMessage = Message & { '@odata.etag': string };

function recipient(text: string): Recipient {
  const match = /^\s*(.*?)\s*<([^>]+)>\s*$/.exec(text);
  const emailAddress: EmailAddress = match
    ? { name: match[1] || match[2], address: match[2] }
    : { name: text.split('@')[0], address: text };
  return { emailAddress };
}

/** `nowIso`: now in whole seconds (`wholeSecondIso`). */
export function buildMessage(id: string, folderId: string, input: MessageInput, nowIso: string): SimMessage {
  const key = changeKey();
  // "Get message": every date of a message in whole seconds (`2018-09-09T03:15:05Z`), given dates included.
  const received = input.receivedDateTime ? wholeSecondIso(Date.parse(input.receivedDateTime)) : nowIso;
  const sent = input.sentDateTime ? wholeSecondIso(Date.parse(input.sentDateTime)) : received;
  const body = input.body ?? '';
  const from = recipient(input.from ?? 'Dana Swope <danas@contoso.example>');
  return {
    '@odata.etag': `W/"${key}"`,
    id,
    createdDateTime: received,
    lastModifiedDateTime: received > nowIso ? received : nowIso,
    changeKey: key,
    categories: input.categories ?? [],
    receivedDateTime: received,
    sentDateTime: sent,
    hasAttachments: false,
    internetMessageId: `<${guid().toLowerCase()}@contoso.example>`,
    subject: input.subject ?? '',
    bodyPreview: body.slice(0, 255),
    importance: input.importance ?? 'normal',
    parentFolderId: folderId,
    conversationId: `AAQkA${Buffer.from(id.slice(-24)).toString('base64url')}=`,
    isDeliveryReceiptRequested: false,
    isReadReceiptRequested: false,
    isRead: input.isRead ?? false,
    isDraft: input.isDraft ?? false,
    webLink: `https://outlook.office365.com/owa/?ItemID=${encodeURIComponent(id)}&exvsurl=1&viewmodel=ReadMessageItem`,
    inferenceClassification: 'focused',
    body: { contentType: input.bodyContentType ?? 'text', content: body },
    sender: from,
    from,
    toRecipients: (input.to ?? ['adele@contoso.example']).map(recipient),
    ccRecipients: (input.cc ?? []).map(recipient),
    bccRecipients: [],
    replyTo: [],
    flag: { flagStatus: 'notFlagged' },
  };
}

/** The message after a PATCH: new changeKey/etag and lastModifiedDateTime. */
export function patchMessage(message: SimMessage, patch: MessagePatch, nowIso: string): SimMessage {
  const key = changeKey();
  const next: SimMessage = { ...message, '@odata.etag': `W/"${key}"`, changeKey: key, lastModifiedDateTime: nowIso };
  if (patch.subject !== undefined) next.subject = patch.subject;
  if (patch.body !== undefined) {
    next.body = { contentType: message.body?.contentType ?? 'text', content: patch.body };
    next.bodyPreview = patch.body.slice(0, 255);
  }
  if (patch.isRead !== undefined) next.isRead = patch.isRead;
  if (patch.importance !== undefined) next.importance = patch.importance;
  if (patch.categories !== undefined) next.categories = patch.categories;
  if (patch.flag !== undefined) next.flag = patch.flag;
  return next;
}
