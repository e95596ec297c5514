export { crc32, drawPicture, encodePng } from './fake-comfyui.png.js';
export { startFakeComfy } from './fake-comfyui.server.js';
export { type RunFakeComfyOptions, runFakeComfy } from './fake-comfyui.standalone.js';
export type {
  FakeComfy,
  FakeComfyControl,
  FakeComfyFault,
  FakeComfyOptions,
  FakeComfyStats,
} from './fake-comfyui.types.js';
