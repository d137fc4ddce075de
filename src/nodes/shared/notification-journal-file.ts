/**
 * Where `ms365-webhook-in` keeps its notification journal (`core/webhooks/notification-journal`):
 * `<userDir>/.ms365-events/webhook-journal-<node id>.jsonl`, appended through an `O_DSYNC` handle (each write is on disk
 * when it returns: one system call instead of write + fdatasync, about half the CPU on the 2-core VM here; where
 * `O_DSYNC` does not exist, write + fdatasync), the folder synced when the file is created, compacted with
 * `writeFileAtomic`; deleted when the node is removed. Without a user directory (the test helper) the journal lives in
 * this process's memory, per node id, so a redeploy of the node still replays it.
 * Cluster mode: one journal per instance (its own user directory); the instance that answered replays it.
 */
import { constants, promises as fsp } from 'node:fs';
import path from 'node:path';
import type { Node, NodeAPI } from 'node-red';
import { MemoryJournalStorage, NotificationJournal, type JournalStorage } from '../../core/webhooks/notification-journal';
import { syncDirectory, writeFileAtomic } from '../../core/persistence/atomic-file';
import { nodeStateFileName, stateDirectory } from './state-dir';

/** Append, create, and synchronous data writes where the platform has them (Linux, macOS). */
const DSYNC_APPEND = constants.O_DSYNC ? constants.O_WRONLY | constants.O_CREAT | constants.O_APPEND | constants.O_DSYNC : undefined;

export class FileJournalStorage implements JournalStorage {
  private handle: fsp.FileHandle | undefined;

  constructor(readonly file: string) {}

  async read(): Promise<string | undefined> {
    try {
      return await fsp.readFile(this.file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
  }

  async append(text: string, sync: boolean): Promise<void> {
    if (!this.handle) {
      const dir = path.dirname(this.file);
      await fsp.mkdir(dir, { recursive: true, mode: 0o700 });
      this.handle = await fsp.open(this.file, DSYNC_APPEND ?? 'a', 0o600);
      // A file just created: its folder entry must be on disk too before anything in it counts as durable.
      if ((await this.handle.stat()).size === 0) await syncDirectory(dir);
    }
    const data = Buffer.from(text, 'utf8');
    // One write system call as a rule (a short write, rare on a local file, continues where it stopped).
    for (let offset = 0; offset < data.length; ) offset += (await this.handle.write(data, offset)).bytesWritten;
    if (sync && DSYNC_APPEND === undefined) await this.handle.datasync();
  }

  async rewrite(text: string): Promise<void> {
    await this.close();
    await writeFileAtomic(this.file, text);
  }

  async remove(): Promise<void> {
    await this.close();
    await fsp.rm(this.file, { force: true });
  }

  async close(): Promise<void> {
    const handle = this.handle;
    this.handle = undefined;
    await handle?.close();
  }
}

/** Memory journals without a user directory, by node id (a redeploy in the same process replays). */
const inMemory = new Map<string, MemoryJournalStorage>();

export function notificationJournal(RED: NodeAPI, node: Node, warn: (message: string) => void): NotificationJournal {
  const dir = stateDirectory(RED);
  let storage: JournalStorage;
  if (dir) storage = new FileJournalStorage(path.join(dir, nodeStateFileName('webhook-journal', node.id, '.jsonl')));
  else {
    const memory = inMemory.get(node.id) ?? new MemoryJournalStorage();
    inMemory.set(node.id, memory);
    // Removing the node forgets its journal (a new node with that id starts empty).
    storage = {
      read: () => memory.read(),
      append: (text, sync) => memory.append(text, sync),
      rewrite: (text) => memory.rewrite(text),
      remove: async () => void inMemory.delete(node.id),
      close: () => memory.close(),
    };
  }
  return new NotificationJournal(storage, { warn });
}
