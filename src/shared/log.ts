import pino from 'pino';

export type Logger = pino.Logger;

export function createLogger(level = 'info', pretty = process.stdout.isTTY): Logger {
  return pino({
    level,
    redact: { paths: ['req.headers.authorization', 'req.headers["x-api-key"]', 'req.headers["x-tollgate-key"]', '*.key', '*.secret'], censor: '[redacted]' },
    ...(pretty ? { transport: { target: 'pino-pretty', options: { translateTime: 'SYS:HH:MM:ss', ignore: 'pid,hostname' } } } : {}),
  });
}
