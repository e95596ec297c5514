export { BotApiError } from './bot-api-error.js';
export type { CallQuery, EmulatorInfo, WaitOptions } from './client.js';
export { EmulatorClient, EmulatorClientError } from './client.js';
export type { BotApiEmulator, BotApiEmulatorOptions } from './emulator.js';
export { createBotApiEmulator } from './emulator.js';
export type { EmulatorCore } from './emulator-core.js';
export type { CheckoutInput, CheckoutResult } from './payment-flows.js';
export type * from './types.js';
export type {
  ChatInput,
  InjectCallbackQueryInput,
  InjectMessageInput,
  InjectPreCheckoutQueryInput,
  InjectSuccessfulPaymentInput,
  UserInput,
} from './update-factory.js';
