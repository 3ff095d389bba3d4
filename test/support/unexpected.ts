import { after, before } from 'node:test';

/**
 * Collects unhandled rejections and uncaught exceptions for the enclosing `describe` (hooks installed here);
 * tests assert the list stays empty.
 */
export function watchUnexpectedErrors(): unknown[] {
  const unexpected: unknown[] = [];
  const onUnexpected = (error: unknown) => unexpected.push(error);
  before(() => {
    process.on('unhandledRejection', onUnexpected);
    process.on('uncaughtException', onUnexpected);
  });
  after(() => {
    process.off('unhandledRejection', onUnexpected);
    process.off('uncaughtException', onUnexpected);
  });
  return unexpected;
}
