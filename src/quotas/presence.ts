import type { Clock } from '../shared/clock.ts';
import type { Logger } from '../shared/log.ts';

/**
 * "Is any entitlement enabled at all?", for the gate's callers it has no cached list for. When the
 * answer is a fresh "no", the gateway need not estimate such a call — so a deployment without
 * entitlements never loads the tokenizer (gpt-tokenizer, ~55 MB RSS) for the quota estimate.
 *
 * A "no" is trusted only while the question that gave it was asked less than `ttlMs` ago (the
 * gate's own cache ttl): an entitlement enabled by another process is seen within that time, as a
 * cached caller's list is. While the answer is "no" it is asked again every `ttlMs / 2`, so an
 * idle spell does not leave it stale for the next call (a stale or unknown answer counts as "maybe":
 * the gate then asks per caller as before). A "yes" is not asked again until `invalidate()`:
 * "maybe" is what every caller gets then, which is what the gate did before this answer existed.
 * A failed question leaves the answer unknown, with nothing asked until the next call (a store
 * that fails is not polled). `close()` — the app closing — stops the asking for good.
 */
export class EntitlementPresence {
  /** The last answer: true = some enabled, false = none, undefined = not known. */
  private known: boolean | undefined;
  /** Clock ms when the question that gave `known` was asked. */
  private at = 0;
  /** Bumped by invalidate(): answers to questions asked before it are dropped. */
  private gen = 0;
  /** The `gen` of the question in flight, -1 for none. */
  private asking = -1;
  private timer: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(private readonly o: { anyEnabled: () => Promise<boolean>; clock: Clock; ttlMs: number; logger: Logger }) {
    // ttl 0 caches nothing: no "no" is ever fresh, so nothing is asked.
    if (o.ttlMs > 0) this.ask();
  }

  /** True only while a "no enabled entitlement" answer is fresh; otherwise false (and asks again if it is not known). */
  none(): boolean {
    if (this.known === false && this.o.clock.now().getTime() - this.at < this.o.ttlMs) return true;
    if (this.known !== true && this.o.ttlMs > 0) this.ask();
    return false;
  }

  /** An entitlement was created, changed or deleted in this process: forget the answer and ask again. */
  invalidate(): void {
    this.gen++;
    this.known = undefined;
    clearTimeout(this.timer);
    this.timer = undefined;
    if (this.o.ttlMs > 0) this.ask();
  }

  /** Stops the asking (its timer, and any answer still to come is dropped); from now on every call gets "maybe". */
  close(): void {
    this.closed = true;
    this.gen++;
    this.known = undefined;
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  private ask(): void {
    if (this.closed || this.asking === this.gen) return;
    const gen = (this.asking = this.gen);
    const at = this.o.clock.now().getTime();
    let answer: Promise<boolean>;
    try {
      answer = this.o.anyEnabled();
    } catch (err) {
      answer = Promise.reject(err);
    }
    void answer.then(
      (any) => this.answered(gen, at, any),
      (err) => this.answered(gen, at, undefined, err),
    );
  }

  private answered(gen: number, at: number, any: boolean | undefined, err?: unknown): void {
    if (this.asking === gen) this.asking = -1;
    // Invalidated while asking: the newer question's answer counts.
    if (gen !== this.gen) return;
    this.known = any;
    this.at = at;
    if (any === false) this.askLater();
    else if (err !== undefined) this.o.logger.debug({ err }, 'could not tell whether any entitlement is enabled (callers are asked for one by one)');
  }

  private askLater(): void {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.ask();
    }, Math.max(1, Math.floor(this.o.ttlMs / 2)));
    this.timer.unref();
  }
}
