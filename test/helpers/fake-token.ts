/**
 * A bot token in Telegram's format (`<bot id>:<secret>`) that belongs to no bot, for tests of
 * the redaction of tokens. Assembled here so no token-shaped literal sits in the sources, where a
 * secret scanner could not tell it from a leaked one.
 */
export const FAKE_BOT_TOKEN = `123456789:${'AA'}${'FAKE_TOKEN_FOR_TESTS_ONLY_000000'}`;
