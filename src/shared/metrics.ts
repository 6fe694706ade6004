import client from 'prom-client';

/**
 * One registry per running server, so tests that build several apps in one process do not
 * collide. Domains take the registry and create their own metrics on it.
 */
export type Registry = client.Registry;

export function createRegistry(): Registry {
  const registry = new client.Registry();
  client.collectDefaultMetrics({ register: registry, prefix: 'tollgate_' });
  return registry;
}

export { client as prom };
