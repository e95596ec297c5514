export type { PlaygroundOptions } from './playground.plugin.js';
export { registerPlayground } from './playground.plugin.js';
