#!/usr/bin/env node
// The `loyalty` CLI: runs the TypeScript sources through tsx's loader.
import { register } from 'tsx/esm/api';

register();
await import('../cli/bin.ts');
