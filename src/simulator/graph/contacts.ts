/**
 * Simulated Outlook contacts in Graph's `contact` shape (default contact folder); dates in whole seconds as "Get
 * contact" shows them (the store passes `wholeSecondIso` of its clock).
 */
import type { Contact } from '@microsoft/microsoft-graph-types';
import { changeKey } from './ids';

export interface ContactInput {
  displayName?: string;
  givenName?: string;
  surname?: string;
  emailAddresses?: string[];
  businessPhones?: string[];
  companyName?: string;
  jobTitle?: string;
}

export type SimContact = Contact & { '@odata.etag': string };

/** Every property of the "Get contact" example, unset ones as Graph writes them (`null`, `""`, `[]`, `{}`), in its order. */
export function buildContact(id: string, folderId: string, input: ContactInput, nowIso: string): SimContact {
  const key = changeKey();
  const givenName = input.givenName ?? input.displayName?.split(' ')[0] ?? '';
  const surname = input.surname ?? input.displayName?.split(' ').slice(1).join(' ') ?? '';
  return {
    '@odata.etag': `W/"${key}"`,
    id,
    createdDateTime: nowIso,
    lastModifiedDateTime: nowIso,
    changeKey: key,
    categories: [],
    parentFolderId: folderId,
    birthday: null,
    fileAs: '',
    displayName: input.displayName ?? `${givenName} ${surname}`.trim(),
    givenName,
    initials: null,
    middleName: null,
    nickName: null,
    surname,
    title: null,
    yomiGivenName: null,
    yomiSurname: null,
    yomiCompanyName: null,
    generation: null,
    imAddresses: [],
    jobTitle: input.jobTitle ?? null,
    companyName: input.companyName ?? null,
    department: null,
    officeLocation: null,
    profession: null,
    businessHomePage: null,
    assistantName: null,
    manager: null,
    homePhones: [],
    mobilePhone: null,
    businessPhones: input.businessPhones ?? [],
    spouseName: null,
    personalNotes: '',
    children: [],
    emailAddresses: (input.emailAddresses ?? []).map((address) => ({ name: address, address })),
    homeAddress: {},
    businessAddress: {},
    otherAddress: {},
  };
}

export function patchContact(contact: SimContact, patch: ContactInput, nowIso: string): SimContact {
  const key = changeKey();
  const next: SimContact = { ...contact, '@odata.etag': `W/"${key}"`, changeKey: key, lastModifiedDateTime: nowIso };
  if (patch.displayName !== undefined) next.displayName = patch.displayName;
  if (patch.givenName !== undefined) next.givenName = patch.givenName;
  if (patch.surname !== undefined) next.surname = patch.surname;
  if (patch.emailAddresses !== undefined) next.emailAddresses = patch.emailAddresses.map((address) => ({ name: address, address }));
  if (patch.businessPhones !== undefined) next.businessPhones = patch.businessPhones;
  if (patch.companyName !== undefined) next.companyName = patch.companyName;
  if (patch.jobTitle !== undefined) next.jobTitle = patch.jobTitle;
  return next;
}
