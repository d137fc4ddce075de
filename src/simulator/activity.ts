/**
 * Scripted activity for the demo (`npm start`): every few seconds something happens in the simulated tenant's
 * default mailbox, calendar and drive (a mail arrives, is read, is deleted; a meeting is planned, moved and
 * cancelled; a file is uploaded, edited and removed), so the demo flow has events to show.
 */
import type { SimState } from './state';

export interface Activity {
  stop(): void;
}

export function startActivity(state: SimState, everyMs = 5000): Activity {
  const store = state.graph.store;
  const userId = state.defaultUser.id;
  let step = 0;
  let lastMessage: string | undefined;
  let lastEvent: string | undefined;
  let lastFile: string | undefined;
  const senders = ['Megan Bowen <megan@contoso.example>', 'Alex Wilber <alex@contoso.example>'];

  const actions: Array<() => void> = [
    () => {
      lastMessage = store.createMessage(userId, {
        subject: `Demo mail #${step}`,
        from: senders[step % senders.length],
        body: 'Sent by the simulated tenant.',
      }).id;
    },
    () => {
      lastEvent = store.createEvent(userId, { subject: `Demo meeting #${step}`, location: 'Room 1' }).id;
    },
    () => {
      lastFile = store.createDriveItem(userId, { name: `demo-${step}.txt`, content: 'hello' }).id;
    },
    () => {
      if (lastMessage) store.updateMessage(userId, lastMessage, { isRead: true });
    },
    () => {
      if (lastEvent) store.updateEvent(userId, lastEvent, { location: 'Room 2' });
    },
    () => {
      if (lastFile) store.updateDriveItem(userId, lastFile, { content: 'hello again' });
    },
    () => {
      if (lastMessage) store.deleteMessage(userId, lastMessage);
      lastMessage = undefined;
    },
    () => {
      if (lastFile) store.deleteDriveItem(userId, lastFile);
      lastFile = undefined;
    },
  ];

  const timer = setInterval(() => {
    const action = actions[step % actions.length];
    step += 1;
    try {
      action();
    } catch {
      // An object the user deleted by hand through the control API: skip this step.
    }
  }, everyMs);
  timer.unref();
  return { stop: () => clearInterval(timer) };
}
