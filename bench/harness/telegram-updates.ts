/** Telegram users and updates for load generation: unique update ids, one private chat per user. */

export interface BenchUser {
  id: number;
  is_bot: false;
  first_name: string;
  language_code: string;
}

/** The n-th simulated user (0-based); ids stay clear of the sink's bot id and of test fixtures. */
export function benchUser(n: number): BenchUser {
  return { id: 900_000_000 + n, is_bot: false, first_name: `Bench${n}`, language_code: 'en' };
}

export interface UpdateFactory {
  /** A private text message from `user`; a leading /command gets its bot_command entity. */
  message(user: BenchUser, text: string): Record<string, unknown>;
  /** `user` pressed Pay on an invoice whose payload is `payload`: a Stars pre_checkout_query. */
  preCheckoutQuery(user: BenchUser, payload: string, amount: number): Record<string, unknown>;
}

/** Update ids start high and at a random point, so a run never collides with an earlier one's dedupe keys. */
export function createUpdateFactory(): UpdateFactory {
  let updateId = 100_000_000 + Math.floor(Math.random() * 1_000_000_000);
  let messageId = 0;
  return {
    message(user, text) {
      updateId += 1;
      messageId += 1;
      const command = /^\/\w+/.exec(text);
      return {
        update_id: updateId,
        message: {
          message_id: messageId,
          date: Math.floor(Date.now() / 1000),
          chat: { id: user.id, type: 'private', first_name: user.first_name },
          from: user,
          text,
          ...(command ? { entities: [{ type: 'bot_command', offset: 0, length: command[0].length }] } : {}),
        },
      };
    },
    preCheckoutQuery(user, payload, amount) {
      updateId += 1;
      return {
        update_id: updateId,
        pre_checkout_query: {
          id: `bench-${updateId}`,
          from: user,
          currency: 'XTR',
          total_amount: amount,
          invoice_payload: payload,
        },
      };
    },
  };
}
