/**
 * The ceiling for `vitte api`: a grammY bot with no database and no Redis, on Fastify with grammY's
 * own webhookCallback, answering /status with a reply of the same shape (sendMessage, HTML) through
 * the same Bot API sink. Run as a child process by the bot benchmark, like `vitte api`; prints one
 * JSON line `{"msg":"listening","url":…}` when ready.
 *
 * Env: NULL_BOT_TOKEN, NULL_BOT_API_ROOT, NULL_BOT_SECRET.
 */
import Fastify from 'fastify';
import { Bot, webhookCallback } from 'grammy';

const { NULL_BOT_TOKEN: token, NULL_BOT_API_ROOT: apiRoot, NULL_BOT_SECRET: secret } = process.env;
if (!token || !apiRoot || !secret)
  throw new Error('NULL_BOT_TOKEN, NULL_BOT_API_ROOT and NULL_BOT_SECRET are required');

const bot = new Bot(token, { client: { apiRoot } });
bot.command('status', (ctx) =>
  ctx.reply(
    [
      '<b>Your plan:</b> Free',
      `<b>Messages:</b> 0 of 30`,
      `<b>Images:</b> 0 of 3`,
      `<b>Quota resets:</b> ${new Date().toISOString()} UTC`,
    ].join('\n'),
    { parse_mode: 'HTML' },
  ),
);
await bot.init();

const server = Fastify({ logger: false });
server.post('/telegram/webhook', webhookCallback(bot, 'fastify', { secretToken: secret }));
const url = await server.listen({ host: '127.0.0.1', port: 0 });
process.stdout.write(`${JSON.stringify({ msg: 'listening', url })}\n`);

process.once('SIGTERM', () => {
  void server.close().then(() => process.exit(0));
});
