import type { Express } from 'express';
import type { SimState } from './state';

/** Placeholder: implemented by its own issue work. */
export function registerIdentity(_app: Express, _state: SimState): void {}
